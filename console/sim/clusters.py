"""Several clusters for the demo and the tests: one SimFarm per cluster, one config over them.

A second Proxmox cluster with its own Icinga is, to the console, a second `proxmox` and a second
`icinga` source. So each extra cluster is a whole simulated farm of its own (its own seed, CA,
secrets and ports, and its own incident), and the config lists its Proxmox and Icinga next to the
first farm's as `pve2`, `icinga2` ...; PuppetDB, Graylog, the commits and the actions stay the
first farm's. The farms share the reference inventory, so the same host names live in every
cluster — what the console must keep apart (a cluster column, a row per cluster).
"""

from __future__ import annotations

from typing import Sequence

import yaml

from console.sim.simfarm import SimFarm

CLUSTER_KINDS = ("proxmox", "icinga")  # what a cluster adds to the config
OTHER_INCIDENT = {"php-fpm-down": "db-disk-full"}  # an extra cluster's scenario: a different incident


def cluster_scenario(scenario: str, number: int) -> str:
    """Cluster 1 runs `scenario`; the others another incident, so their alerts differ."""
    return scenario if number == 1 else OTHER_INCIDENT.get(scenario, "php-fpm-down")


def cluster_seed(seed: int, number: int) -> int:
    return seed + number - 1


def clustered_config_yaml(farms: Sequence[SimFarm]) -> str:
    """The first farm's config with the Proxmox and Icinga sources of every other farm added, named
    after the first's with the cluster's number (`pve2`, `icinga2`)."""
    config = yaml.safe_load(farms[0].config_yaml())
    for number, farm in enumerate(farms[1:], start=2):
        other = yaml.safe_load(farm.config_yaml())
        for kind in CLUSTER_KINDS:
            config["sources"][kind] += [{**item, "name": f"{item['name']}{number}"} for item in other["sources"][kind]]
    header = (f"# opsconsole config for {len(farms)} simulated clusters (Proxmox + Icinga each; PuppetDB, Graylog,\n"
              f"# commits and actions from the first). Secrets and CAs live in {farms[0].state_dir}.\n")
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False, width=200)

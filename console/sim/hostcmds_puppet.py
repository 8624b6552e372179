"""The Puppet agent on the simulated hosts (registered in console/sim/hostcmds.py's table).

`puppet agent -t[v]` runs now: a new report lands in the simulated PuppetDB (console/sim/puppet.py
`Agent.run_now`), the output is what an agent prints, and the exit status is --detailed-exitcodes'
(0 no changes, 2 changes, 4 failures, 6 both; 1 when the agent is disabled). `--disable "<reason>"`
sets the disabled fact with that message (Icinga's Puppet check warns), `--enable` clears it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.sim.hostcmds import Outcome, shell_command
from console.sim.puppet import ENVIRONMENT

if TYPE_CHECKING:
    from console.sim.farm import Farm


def agent_run(farm: Farm, host: str) -> Outcome:
    with farm.lock:
        agent = farm.agents.get(host)
        if agent is None:
            return 127, "", "sh: 1: puppet: not found"
        now = farm.now()
        if agent.disabled_since is not None and agent.disabled_since <= now:
            return 1, (f"Notice: Skipping run of Puppet configuration client; administratively disabled "
                       f"(Reason: '{agent.disabled_reason}');\nUse 'puppet agent --enable' to re-enable.\n"), ""
        run = agent.run_now(farm.seed, now)
    spec = run.host
    lines = [
        f"Info: Using environment '{ENVIRONMENT}'",
        "Info: Retrieving pluginfacts",
        "Info: Retrieving plugin",
        "Info: Loading facts",
        f"Info: Caching catalog for {spec.fqdn}",
        f"Info: Applying configuration version '{run.configuration_version}'",
    ]
    errors = []
    for event in run.events:
        where = f"/Stage[main]/{event.containing_class or 'Main'}/{event.resource}"
        if event.status == "failure":
            errors.append(f"Error: {where}/{event.prop or 'ensure'}: {event.message}")
            lines.append(errors[-1])
        elif event.status == "skipped":
            lines.append(f"Warning: {where}: Skipping because of failed dependencies")
        else:
            lines.append(f"Notice: {where}/{event.prop or 'ensure'}: {event.message}")
    took = (run.end - run.start).total_seconds()
    lines.append(f"Notice: Applied catalog in {took:.2f} seconds")
    changed = any(e.status == "success" for e in run.events)
    failed = run.status == "failed"
    code = (2 if changed else 0) | (4 if failed else 0)
    return code, "\n".join(lines) + "\n", "\n".join(errors) + ("\n" if errors else "")


@shell_command("puppet agent -tv")
def _puppet_tv(farm: Farm, host: str) -> Outcome:
    return agent_run(farm, host)


@shell_command("puppet agent -t")
def _puppet_t(farm: Farm, host: str) -> Outcome:
    return agent_run(farm, host)


@shell_command("puppet agent --test")
def _puppet_test(farm: Farm, host: str) -> Outcome:
    return agent_run(farm, host)


@shell_command("puppet agent --disable {reason}")
def _puppet_disable(farm: Farm, host: str, reason: str) -> Outcome:
    with farm.lock:
        if host not in farm.agents:
            return 127, "", "sh: 1: puppet: not found"
        farm.set_puppet_disabled(host, reason)
    return 0, "", ""


@shell_command("puppet agent --disable")
def _puppet_disable_no_reason(farm: Farm, host: str) -> Outcome:
    return _puppet_disable(farm, host, "reason not specified")  # what puppet itself records


@shell_command("puppet agent --enable")
def _puppet_enable(farm: Farm, host: str) -> Outcome:
    with farm.lock:
        if host not in farm.agents:
            return 127, "", "sh: 1: puppet: not found"
        farm.enable_puppet(host)
    return 0, "", ""

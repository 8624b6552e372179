"""The simulated farm: the reference farm's APIs served over HTTPS on loopback, for demos and tests.

Written from docs/reference/APIS.md only — never import console.sources here, so the sim can catch
the clients' mistakes instead of sharing them.
"""

from console.sim.farm import Farm
from console.sim.scenarios import DEFAULT_SCENARIO
from console.sim.scenarios import DESCRIPTIONS as SCENARIOS
from console.sim.server import FAULTS
from console.sim.simfarm import APIS, SimFarm

__all__ = ["APIS", "DEFAULT_SCENARIO", "FAULTS", "Farm", "SCENARIOS", "SimFarm"]

"""Fixtures for tests that talk to the simulated farm over loopback HTTPS (console.sim).

`sim_farm_factory` and `sim_client_factory` live in tests/conftest.py (tests/real's conformance tests
use them too); `SIM_NOW` is re-exported here.
"""

from __future__ import annotations

from tests.conftest import SIM_NOW  # noqa: F401

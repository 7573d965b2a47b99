"""Ingress RTL, integration tier: cocotb + Verilator, scoreboard against the golden model.

The design is built once per run (and cached across runs until its Verilog changes).
"""

import pytest

from hw.rtl.ingress import Ingress
from hw.tb import sim


@pytest.fixture(scope="session")
def ingress_build():
    return sim.build("ingress", Ingress)


@pytest.mark.parametrize("testcase", [
    "nothing_passes_until_the_destination_is_configured",
    "generated_feed_back_to_back",
    "generated_feed_with_idle_gaps",
    "fuzz_malformed_frames_and_beats",
    "stale_is_cleared_through_its_register",
])
def test_ingress_rtl(ingress_build, testcase):
    ingress_build.run("tests.hw.cocotb_ingress", testcase=testcase)

"""Network filter RTL, integration tier: cocotb + Verilator, scoreboard against the model.

The design is built once per run (and cached across runs until its Verilog changes).
"""

import pytest

from hw.rtl.netfilter import NetFilter
from hw.tb import sim


@pytest.fixture(scope="session")
def netfilter_build():
    return sim.build("netfilter", NetFilter)


@pytest.mark.parametrize("testcase", [
    "generated_feed_back_to_back",
    "generated_feed_with_idle_gaps",
    "fuzz_malformed_frames_and_beats",
])
def test_netfilter_rtl(netfilter_build, testcase):
    netfilter_build.run("tests.hw.cocotb_netfilter", testcase=testcase)

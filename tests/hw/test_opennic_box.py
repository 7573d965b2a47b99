"""OpenNicBox (hw/rtl/opennic_box.py), integration tier: the box's Verilog under Verilator,
driven through its shell-named ports by cocotb (tests/hw/cocotb_opennic_box.py), at the BOARD
capacity (the smallest build: the box's own logic is the same at every capacity)."""

import pytest

from hw.rtl.capacity import BOARD
from hw.rtl.opennic_box import OpenNicBox
from hw.tb import sim


@pytest.fixture(scope="session")
def box_build():
    return sim.build("opennic_box", lambda: OpenNicBox(capacity=BOARD))


@pytest.mark.parametrize("testcase", [
    "registers_through_the_shell_port",
    "received_frames_reach_the_adapter_and_the_card_counts_them",
    "adapter_frames_reach_the_cmac_under_backpressure",
])
def test_opennic_box(box_build, testcase):
    box_build.run("tests.hw.cocotb_opennic_box", testcase=testcase)

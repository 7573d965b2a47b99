"""The board's design end to end in simulation (cocotb + Verilator): a synthetic feed's frames
in at the RGMII pins, the orders' FIX bytes out at the RGMII pins in UDP datagrams, checked
against the golden model (tests/hw/cocotb_ethernet_card.py). One build per run."""

import pytest

from hw.tb import ethernet_card


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A feed, the model's orders for it, and the host's plan for the card."""
    root = tmp_path_factory.mktemp("board")
    summary = ethernet_card.prepare_run(root)
    assert set(summary["orders_by_type"]) == {"D", "G", "F"}
    return root


@pytest.fixture(scope="module")
def card_build():
    return ethernet_card.build()


@pytest.mark.parametrize("testcase", [
    "a_feed_in_at_the_pins_gives_the_models_orders_at_the_pins",
    "damaged_frames_are_dropped_counted_and_change_nothing",
])
def test_board_design_rtl(card_build, work, testcase):
    ethernet_card.run(card_build, work, testcase)

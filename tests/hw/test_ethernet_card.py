"""The board's design end to end in simulation (cocotb + Verilator): a synthetic feed's frames
in at the RGMII pins, the orders' FIX bytes out at the RGMII pins in UDP datagrams, checked
against the golden model (tests/hw/cocotb_ethernet_card.py). One build per run."""

import json

import pytest

from hw.tb import ethernet_card
from hw.tb.replay import prepare
from hw.tb.tick_to_trade import PERMISSIVE
from sw.cli.main import main
from sw.model.config import load_limits


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A feed, the model's orders for it, and the host's plan for the card."""
    root = tmp_path_factory.mktemp("board")
    feed = root / "feed.itch"
    assert main(["gen", "--symbols", "4", "--messages", "500", "--seed", "9",
                 "--out", str(feed)]) == 0
    # Limits that refuse nothing: the rate limit is the only check that reads the clock, and
    # the card's clock free-runs here while the model stamps packets with the feed's time.
    (root / "limits.json").write_text(json.dumps({"defaults": PERMISSIVE}))
    assert main(["replay", "--backend", "model", "--feed", str(feed), "--out",
                 str(root / "model"), "--limits", str(root / "limits.json")]) == 0
    summary = json.loads((root / "model" / "summary.json").read_text())
    assert set(summary["orders_by_type"]) == {"D", "G", "F"}
    prepare(feed, root / "rtl", limits=load_limits({"defaults": PERMISSIVE}))
    return root


@pytest.fixture(scope="module")
def card_build():
    return ethernet_card.build()


@pytest.mark.parametrize("testcase", [
    "a_feed_in_at_the_pins_gives_the_models_orders_at_the_pins",
    "damaged_frames_are_dropped_counted_and_change_nothing",
])
def test_board_design_rtl(card_build, work, testcase):
    card_build.run("tests.hw.cocotb_ethernet_card", testcase=testcase,
                   env={"NERVE_BOARD_WORK": str(work)})

"""`nerve replay --backend rtl`: the simulated fast path writes the model's files byte for byte.

Whole feeds go frame by frame through the whole fast path (ingress, book, strategy, risk gate,
order table, FIX encoder) under Verilator (one build per run), and bbo.csv, orders.fix,
orders.csv and rejects.csv must equal the golden model's: a MoldUDP64 pcap with tens of
symbols, thousands of live orders, dropped and repeated packets and malformed messages (stale
feed: cancel-all) and a schedule of host actions (limit changes, kill switch, release, clearing
the stale feed, an order end), quoting and taking symbols, rate limiting; and a NASDAQ file.
"""

import csv
import json

import pytest

from sw.cli.main import main
from sw.fix.dictionary import split_messages, validate

FILES = ("bbo.csv", "orders.fix", "orders.csv", "rejects.csv")
# The pcap run is one expensive module fixture: keep its tests on one xdist worker.
pcap_group = pytest.mark.xdist_group("replay_rtl_pcap")


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("feeds")
    pcap, nasdaq = root / "feed.pcap", root / "feed.itch"
    assert main(["gen", "--symbols", "30", "--messages", "20000", "--seed", "5", "--gaps", "3",
                 "--duplicates", "3", "--malformed", "3", "--out", str(pcap)]) == 0
    assert main(["gen", "--symbols", "12", "--messages", "4000", "--seed", "9",
                 "--out", str(nasdaq)]) == 0
    return {"pcap": pcap, "itch": nasdaq}


def rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def replay(feed, out, *extra, backend="model"):
    assert main(["replay", "--backend", backend, "--feed", str(feed), "--out", str(out),
                 *extra]) == 0
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def pcap_run(feeds, tmp_path_factory):
    """The pcap replayed by both backends under one set of limits, strategy and host actions."""
    root = tmp_path_factory.mktemp("pcap")
    limits = {"defaults": {"max_orders_per_sec": 20_000, "rate_burst": 4},
              "symbols": {"MSFT": {"max_order_qty": 50}, "NVDA": {"enabled": False}},
              "positions": {"AAPL": 300, "AMZN": -500}}
    strategy = {"defaults": {"mode": "quote", "size": 100, "half_spread_ticks": 1},
                "symbols": {"META": {"mode": "take", "take_buy_at_or_below": 10**9,
                                     "take_sell_at_or_above": 1},
                            "TSLA": {"mode": "off"},
                            "COST": {"half_spread_ticks": 60}}}
    (root / "limits.json").write_text(json.dumps(limits))
    (root / "strategy.json").write_text(json.dumps(strategy))
    first = replay(feeds["pcap"], root / "probe", "--limits", str(root / "limits.json"),
                   "--strategy", str(root / "strategy.json"))
    assert first["orders"] > 0
    # An order end for the first D, once it is open (the host confirms a fill).
    chain = next(o for o in rows(root / "probe" / "orders.csv") if o["msg_type"] == "D")
    control = [{"before_msg": 1500, "action": "set_limits", "symbol": "AAPL",
                "limits": {"max_long": 350}},
               {"before_msg": 3000, "action": "set_limits", "limits": {"collar_bps": 30}},
               {"before_msg": int(chain["msg_index"]) + 50, "action": "order_ended",
                "clordid": int(chain["clordid"][3:])},
               *({"before_msg": n, "action": "clear_stale"} for n in range(2000, 20000, 2500)),
               {"before_msg": 9000, "action": "halt"},
               {"before_msg": 9800, "action": "clear_stale"},
               {"before_msg": 11000, "action": "release"}]
    (root / "control.json").write_text(json.dumps(control))
    args = ("--limits", str(root / "limits.json"), "--strategy", str(root / "strategy.json"),
            "--control", str(root / "control.json"))
    model = replay(feeds["pcap"], root / "model", *args)
    rtl = replay(feeds["pcap"], root / "rtl", *args, backend="rtl")
    return root, model, rtl


@pcap_group
@pytest.mark.parametrize("name", FILES)
def test_rtl_pcap_outputs_are_the_models_byte_for_byte(pcap_run, name):
    root, _, rtl = pcap_run
    assert rtl["unreliable_slots"] == [] and rtl["registers"]["trader_fault"] == 0
    assert (root / "rtl" / name).read_bytes() == (root / "model" / name).read_bytes()


@pcap_group
def test_the_pcap_run_exercises_every_path(pcap_run):
    """The comparison above means something: every cause, reject reason family and message
    type occurs, and every message is valid FIX 4.4."""
    root, model, rtl = pcap_run
    assert rtl["registers"]["mold_gaps"] == model["gaps"] == 3
    # The malformed messages: dropped, counted and stale by both, byte for byte (above).
    assert rtl["registers"]["itch_malformed"] == model["malformed_messages"] > 0
    assert set(model["orders_by_cause"]) == {"strategy", "rejected_replace", "kill_switch",
                                             "feed_stale"}
    assert set(model["orders_by_type"]) == {"D", "G", "F"}
    # (KILL_SWITCH and BOOK_STALE never occur here: the strategy stands down first.)
    for reason in ("SYMBOL_DISABLED", "QTY_EXCEEDS_MAX", "PRICE_OUTSIDE_COLLAR",
                   "POSITION_LIMIT", "OPEN_ORDERS_LIMIT", "RATE_LIMITED"):
        assert model["rejects_by_reason"].get(reason, 0) > 0, reason
    ioc = [o for o in rows(root / "rtl" / "orders.csv") if o["tif"] == "3"]
    assert ioc and {o["symbol"] for o in ioc} == {"META"}
    messages = split_messages((root / "rtl" / "orders.fix").read_bytes())
    assert len(messages) == rtl["orders"] == model["orders"]
    for raw in messages:
        validate(raw)
    assert rtl["registers"]["trader_ends"] == 1


def test_rtl_nasdaq_file_outputs_are_the_models_byte_for_byte(feeds, tmp_path):
    model = replay(feeds["itch"], tmp_path / "model")
    rtl = replay(feeds["itch"], tmp_path / "rtl", backend="rtl")
    assert model["orders"] > 50 and model["bbo_updates"] > 300
    assert rtl["messages"] == model["messages"]
    for name in FILES:
        assert (tmp_path / "rtl" / name).read_bytes() == (tmp_path / "model" / name).read_bytes()

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
    # Host orders by the host order port, at the touch as the feed has it then: a buy that
    # reduces AMZN's short, one over the size limit, one for a disabled symbol, and a resting
    # sell that the kill switch later cancels.
    bbo = rows(root / "probe" / "bbo.csv")

    def touch(symbol, before):
        last = [r for r in bbo if r["symbol"] == symbol and int(r["msg_index"]) < before][-1]
        return int(last["bid_px"]), int(last["ask_px"])

    host = [("AMZN", 5000, "B", 0, 100, "3"), ("AMZN", 5200, "B", 0, 10**6, "3"),
            ("NVDA", 5400, "B", 0, 100, "3"), ("AAPL", 8500, "S", 1, 100, "0")]
    host_orders = [{"before_msg": at, "action": "host_order", "symbol": symbol, "side": side,
                    "price": touch(symbol, at)[price], "qty": qty, "tif": tif}
                   for symbol, at, side, price, qty, tif in host]
    control = [{"before_msg": 1500, "action": "set_limits", "symbol": "AAPL",
                "limits": {"max_long": 350}},
               {"before_msg": 3000, "action": "set_limits", "limits": {"collar_bps": 30}},
               {"before_msg": int(chain["msg_index"]) + 50, "action": "order_ended",
                "clordid": int(chain["clordid"][3:])},
               *({"before_msg": n, "action": "clear_stale"} for n in range(2000, 20000, 2500)),
               {"before_msg": 9000, "action": "halt"},
               {"before_msg": 9800, "action": "clear_stale"},
               {"before_msg": 11000, "action": "release"}, *host_orders]
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
                                             "feed_stale", "host"}
    assert set(model["orders_by_type"]) == {"D", "G", "F"}
    # (KILL_SWITCH and BOOK_STALE never occur here: the strategy stands down first.)
    for reason in ("SYMBOL_DISABLED", "QTY_EXCEEDS_MAX", "PRICE_OUTSIDE_COLLAR",
                   "POSITION_LIMIT", "OPEN_ORDERS_LIMIT", "RATE_LIMITED"):
        assert model["rejects_by_reason"].get(reason, 0) > 0, reason
    ioc = [o for o in rows(root / "rtl" / "orders.csv") if o["tif"] == "3" and o["cause"] != "host"]
    assert ioc and {o["symbol"] for o in ioc} == {"META"}
    messages = split_messages((root / "rtl" / "orders.fix").read_bytes())
    assert len(messages) == rtl["orders"] == model["orders"]
    for raw in messages:
        validate(raw)
    assert rtl["registers"]["trader_ends"] == 1
    # The host order port: every host order went through the gate, and the two over a limit
    # were refused by it like any other order; the kill switch cancelled the resting one (the
    # first, an IOC, stays open in the gate until the host ends it, so a stale feed cancels it).
    assert rtl["registers"]["trader_host_orders"] == 4
    assert rtl["registers"]["trader_host_orders_refused"] == 0
    sent = [o for o in rows(root / "rtl" / "orders.csv") if o["cause"] == "host"]
    assert [(o["symbol"], o["side"], o["tif"]) for o in sent] == [("AMZN", "B", "3"),
                                                                  ("AAPL", "S", "0")]
    refused = [(r["symbol"], r["reason"]) for r in rows(root / "rtl" / "rejects.csv")
               if r["cause"] == "host"]
    assert refused == [("AMZN", "QTY_EXCEEDS_MAX"), ("NVDA", "SYMBOL_DISABLED")]
    resting = sent[1]["clordid"]
    assert [o["cause"] for o in rows(root / "rtl" / "orders.csv")
            if o["orig_clordid"] == resting] == ["kill_switch"]


def test_rtl_nasdaq_file_outputs_are_the_models_byte_for_byte(feeds, tmp_path):
    model = replay(feeds["itch"], tmp_path / "model")
    rtl = replay(feeds["itch"], tmp_path / "rtl", backend="rtl")
    assert model["orders"] > 50 and model["bbo_updates"] > 300
    assert rtl["messages"] == model["messages"]
    for name in FILES:
        assert (tmp_path / "rtl" / name).read_bytes() == (tmp_path / "model" / name).read_bytes()


# --- campaigns: random and damaged feeds at the harness's speed ---------------------------------
# Each feed differs in seed, symbols, regime and damage; limits and strategy are drawn from the
# seed too. A few seconds each through the RTL (bench/replay.py runs the million-message one).
# Within the card's capacity, as a replay must be to equal the model: trends gentle enough to
# stay in the book's price window and not to outrun the order table's update queue (a trend's
# sweeps change the BBO on message after message), and an order rate that keeps the D's
# under the order table's 512 chains (a replay has no venue, so no host ends an order); every
# symbol named by an R (an unnamed one is never subscribed: the card publishes no book for it).

CAMPAIGN = [
    # seed, symbols, messages, regime, damage
    (21, 30, 20_000, "normal:1", ("--gaps", "5", "--duplicates", "5", "--malformed", "5")),
    (22, 12, 30_000, "normal:1,quiet:1", ("--gaps", "2", "--malformed", "2")),
    (23, 24, 40_000, "quiet:1", ("--duplicates", "8")),
    (24, 6, 15_000, "trending:1:up:every=200,normal:1", ("--late-symbols", "2",)),
]


@pytest.mark.parametrize(("seed", "symbols", "messages", "regime", "damage"), CAMPAIGN,
                         ids=[f"seed{c[0]}" for c in CAMPAIGN])
def test_rtl_campaign_feeds_equal_the_model(tmp_path, seed, symbols, messages, regime, damage):
    import random

    rng = random.Random(seed)
    feed = tmp_path / "feed.pcap"
    assert main(["gen", "--symbols", str(symbols), "--messages", str(messages), "--seed",
                 str(seed), "--regime", regime, *damage, "--out", str(feed)]) == 0
    limits = {"defaults": {"max_order_qty": rng.choice([100, 300, 1_000]),
                           "collar_bps": rng.choice([20, 100, 500]),
                           "max_open_orders": rng.choice([2, 4, 16]),
                           "max_orders_per_sec": rng.choice([200, 1_000, 2_000]),
                           "rate_burst": rng.choice([1, 4, 50])}}
    strategy = {"defaults": {"mode": rng.choice(["quote", "quote", "take"]),
                             "size": rng.choice([100, 200]),
                             "half_spread_ticks": rng.choice([0, 1, 3]),
                             "take_buy_at_or_below": 10**9, "take_sell_at_or_above": 1}}
    (tmp_path / "limits.json").write_text(json.dumps(limits))
    (tmp_path / "strategy.json").write_text(json.dumps(strategy))
    args = ("--limits", str(tmp_path / "limits.json"),
            "--strategy", str(tmp_path / "strategy.json"))
    model = replay(feed, tmp_path / "model", *args)
    rtl = replay(feed, tmp_path / "rtl", *args, backend="rtl")
    assert rtl["unreliable_slots"] == [] and rtl["registers"]["trader_fault"] == 0
    assert rtl["messages"] == model["messages"] and model["bbo_updates"] > 1_000
    for name in FILES:
        assert (tmp_path / "rtl" / name).read_bytes() == (tmp_path / "model" / name).read_bytes()


# --- symbols bound by name: mid-session feeds --------------------------------------------------
# One run per feed through each backend, all on the one card build. The host learns locates from
# the feed's R messages, subscribes them by name (not in the feed's order) and configures each
# symbol in the slot the card's map shows; a symbol that never has an R is never subscribed.

MID_LIMITS = {"defaults": {"max_open_orders": 4, "rate_burst": 4, "max_orders_per_sec": 100},
              "symbols": {"MSFT": {"enabled": False}, "META": {"max_order_qty": 60}},
              "positions": {"NVDA": 300}}
MID_STRATEGY = {"defaults": {"mode": "quote", "size": 100, "half_spread_ticks": 1}}


def without_late_directory(pcap, out):
    """`pcap` with the packet holding the late symbols' R messages lost (a sequence gap)."""
    from drivers.card import stock_text
    from hw.rtl.records import BookEventKind
    from sw.feed.net import UdpEndpoint, read_pcap, write_pcap
    from sw.model import decoder
    from sw.model.netfilter import NetFilter
    from sw.model.sequencer import Sequencer

    frames = list(read_pcap(pcap.read_bytes()))
    net, sequencer = NetFilter(UdpEndpoint()), Sequencer()

    def names_msft(frame):
        events = [decoder.as_row(decoder.decode(m))
                  for m in sequencer.packet(net.filter(frame) or b"")]
        return any(e[0] == BookEventKind.DIRECTORY and stock_text(e[7]) == "MSFT"
                   for e in events)

    n = next(n for n, (_, frame) in enumerate(frames) if names_msft(frame))
    with out.open("wb") as f:
        write_pcap(f, frames[:n] + frames[n + 1:])
    return out


@pytest.fixture(scope="module")
def mid_session_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mid_session")
    late, join = root / "late.pcap", root / "join.pcap"
    assert main(["gen", "--symbols", "8", "--messages", "3000", "--seed", "3",
                 "--late-symbols", "4", "--unnamed-symbols", "1", "--out", str(late)]) == 0
    assert main(["gen", "--symbols", "8", "--messages", "3000", "--seed", "3",
                 "--late-symbols", "7", "--unnamed-symbols", "1", "--out", str(join)]) == 0
    feeds = {"late": late, "lost": without_late_directory(late, root / "lost.pcap"),
             "join": join}
    (root / "limits.json").write_text(json.dumps(MID_LIMITS))
    (root / "strategy.json").write_text(json.dumps(MID_STRATEGY))
    # After the gap the host clears the stale feed (once it has checked the card's map).
    (root / "control.json").write_text(json.dumps([{"before_msg": 1200,
                                                    "action": "clear_stale"}]))
    args = ("--limits", str(root / "limits.json"), "--strategy", str(root / "strategy.json"),
            "--control", str(root / "control.json"), "--clordid-prefix", "QX")
    runs = {}
    for name, feed in feeds.items():
        runs[name] = (root / name, replay(feed, root / name / "model", *args),
                      replay(feed, root / name / "rtl", *args, backend="rtl"))
    return runs


@pcap_group
@pytest.mark.parametrize("feed", ["late", "lost", "join"])
def test_rtl_mid_session_limits_apply_to_the_symbol_they_name(mid_session_runs, feed):
    """R after the symbols' first adds (late: four symbols; join: all, so adds come before any
    R), one symbol never named, and (lost) the late symbols' R lost in a gap: the RTL card
    sends exactly the model's orders, under the ClOrdID prefix written to the card."""
    root, model, rtl = mid_session_runs[feed]
    assert rtl["map_errors"] == []
    # Subscribed by name: slot order is the host's, not the feed's (R or first add).
    assert list(rtl["slots"]) == sorted(rtl["slots"]) and rtl["slots"] == {
        s: n for n, s in enumerate(sorted(rtl["slots"]))}
    for name in ("orders.fix", "orders.csv", "rejects.csv"):
        assert (root / "rtl" / name).read_bytes() == (root / "model" / name).read_bytes()
    # The book's updates agree for every locate the host subscribed (the model books all).
    subscribed = {str(locate) for locate in rtl["locates"].values()}
    model_bbo = [r for r in rows(root / "model" / "bbo.csv") if r["locate"] in subscribed]
    rtl_bbo = rows(root / "rtl" / "bbo.csv")
    assert rtl_bbo == model_bbo and len(rtl_bbo) > 100
    orders = rows(root / "rtl" / "orders.csv")
    assert orders and all(o["clordid"].startswith("QX") for o in orders)
    traded = {o["symbol"] for o in orders}
    assert not traded & {"MSFT", "META", "AVGO"}        # disabled, capped below size, unnamed
    disabled = [r for r in rows(root / "rtl" / "rejects.csv") if r["symbol"] == "MSFT"]
    assert all(r["reason"] == "SYMBOL_DISABLED" for r in disabled)
    if feed != "lost":
        assert {"AAPL", "NVDA"} <= traded and disabled
        assert rtl["slots"] == {s: n for n, s in enumerate(
            ["AAPL", "AMZN", "GOOGL", "META", "MSFT", "NVDA", "TSLA"])}
    else:       # their R lost: never subscribed, never traded, booked by the model alone
        assert rtl["registers"]["mold_gaps"] == 1
        assert set(rtl["slots"]) == {"GOOGL", "META", "TSLA"}
        assert not traded & {"AAPL", "MSFT", "NVDA", "AMZN"} and traded

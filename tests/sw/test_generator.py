"""Synthetic market generator (sw.feed.generator): session invariants, determinism, pcap output."""

import calendar
import datetime as dt
import hashlib
from collections import Counter

import dpkt
import pytest

from sw.cli.main import main
from sw.feed import itch, mold, net
from sw.feed.generator import (
    MarketConfig,
    MarketGenerator,
    PcapOptions,
    Regime,
    generate,
    packets,
    parse_regimes,
    pcap_frames,
)
from sw.model import decoder

TICK = 100          # $0.01 in ITCH price units
MAX_PAYLOAD = 1400  # the generator's default UDP payload budget
WINDOW_NS = 5_000   # the generator's default packet window

CONFIGS = [
    MarketConfig(symbols=1, messages=2_000, seed=1),
    MarketConfig(symbols=3, messages=3_000, seed=2, max_orders_per_symbol=20),
    MarketConfig(symbols=8, messages=4_000, seed=3),
    MarketConfig(symbols=30, messages=3_000, seed=4, halt_rate=0.01, halt_messages=40),
    MarketConfig(symbols=45, messages=2_500, seed=99, rate=5_000.0),
    MarketConfig(symbols=600, messages=3_000, seed=5),   # announcements outlast 1 ms
]


class Checker:
    """An independent replay of the session: order table, FIFO price levels, symbol states."""

    def __init__(self):
        self.names = {}          # locate -> symbol
        self.state = {}          # locate -> last trading state
        self.orders = {}         # ref -> [locate, side, price, shares]
        self.levels = {}         # (locate, side) -> {price: [refs in time priority]}
        self.refs_seen = set()
        self.last_ts = -1
        self.open = False        # S 'Q' seen

    def level(self, locate, side):
        return self.levels.setdefault((locate, side), {})

    def best(self, locate, side):
        lv = self.level(locate, side)
        if not lv:
            return None
        return max(lv) if side == "B" else min(lv)

    def add(self, locate, ref, side, shares, price):
        assert ref not in self.refs_seen, f"ref {ref} reused"
        assert ref > 0
        self.refs_seen.add(ref)
        assert side in ("B", "S")
        assert shares > 0
        assert price > 0 and price % TICK == 0, price
        self.orders[ref] = [locate, side, price, shares]
        self.level(locate, side).setdefault(price, []).append(ref)

    def remove(self, ref):
        locate, side, price, _ = self.orders.pop(ref)
        refs = self.level(locate, side)[price]
        refs.remove(ref)
        if not refs:
            del self.level(locate, side)[price]

    def live(self, msg):
        assert msg.ref in self.orders, f"{msg} names no live order"
        order = self.orders[msg.ref]
        assert order[0] == msg.locate, f"{msg} names an order of another symbol"
        return order

    def reduce(self, msg, shares):
        order = self.live(msg)
        assert 0 < shares <= order[3], f"{msg} takes {shares} of {order[3]}"
        order[3] -= shares
        if order[3] == 0:
            self.remove(msg.ref)

    def check_uncrossed(self, locate):
        bid, ask = self.best(locate, "B"), self.best(locate, "S")
        if bid is not None and ask is not None:
            assert bid < ask, f"locate {locate} crossed: bid {bid} >= ask {ask}"

    def feed(self, msg):
        assert msg.timestamp >= self.last_ts, f"time goes back at {msg}"
        self.last_ts = msg.timestamp
        t = itch.message_type(msg)
        if t == "S":
            assert msg.locate == 0
            if msg.event_code == "Q":
                self.open = True
            return
        if t == "R":
            assert msg.locate not in self.names, "locate announced twice"
            assert msg.stock not in self.names.values(), "symbol announced twice"
            assert 1 <= msg.locate <= 0xFFFF
            self.names[msg.locate] = msg.stock
            return
        assert msg.locate in self.names, f"{msg} before the R announcing its locate"
        if hasattr(msg, "stock"):
            assert msg.stock == self.names[msg.locate]
        if t == "H":
            assert msg.trading_state in "HPQT"
            previous = self.state.get(msg.locate)
            if previous is None:
                assert msg.trading_state == "T", "first trading action must be T"
            else:
                assert (previous == "T") != (msg.trading_state == "T"), "no-op state change"
            self.state[msg.locate] = msg.trading_state
            return
        assert self.state.get(msg.locate) is not None, f"{msg} before the symbol's H 'T'"
        assert self.open, f"{msg} before the market opened"
        if t in "AF":
            self.add(msg.locate, msg.ref, msg.side, msg.shares, msg.price)
        elif t in "EC":
            locate, side, price, _ = self.live(msg)
            assert price == self.best(locate, side), "execution away from the touch"
            assert self.level(locate, side)[price][0] == msg.ref, "execution out of time priority"
            if t == "C":
                assert msg.price % TICK == 0 and msg.price > 0
            self.reduce(msg, msg.shares)
        elif t == "X":
            self.reduce(msg, msg.shares)
        elif t == "D":
            self.live(msg)
            self.remove(msg.ref)
        elif t == "U":
            locate, side, _, _ = self.live(msg)
            self.remove(msg.ref)
            self.add(locate, msg.new_ref, side, msg.shares, msg.price)
        elif t == "P":
            assert msg.side in ("B", "S") and msg.shares > 0
            assert msg.price > 0 and msg.price % TICK == 0
        else:
            raise AssertionError(f"unexpected message {msg}")
        self.check_uncrossed(msg.locate)


@pytest.fixture(scope="module", params=CONFIGS, ids=lambda c: f"s{c.symbols}-seed{c.seed}")
def session(request):
    cfg = request.param
    return cfg, list(MarketGenerator(cfg))


def test_invariants(session):
    """Every generated session is internally consistent (see Checker)."""
    cfg, msgs = session
    checker = Checker()
    for msg in msgs:
        checker.feed(msg)
    assert sorted(checker.names) == list(range(1, cfg.symbols + 1))
    assert set(checker.state) == set(checker.names), "a symbol never got its H"


def test_exact_message_count(session):
    """The session holds exactly MarketConfig.messages messages."""
    cfg, msgs = session
    assert len(msgs) == cfg.messages


def test_session_shape(session):
    """S 'O' opens, all R then all H 'T' precede S 'Q', and S 'M','E','C' close the session."""
    cfg, msgs = session
    n = cfg.symbols
    assert msgs[0] == itch.SystemEvent(0, 0, msgs[0].timestamp, "O")
    assert [itch.message_type(m) for m in msgs[1:1 + 2 * n]] == ["R"] * n + ["H"] * n
    assert all(m.trading_state == "T" for m in msgs[1 + n:1 + 2 * n])
    assert (itch.message_type(msgs[1 + 2 * n]), msgs[1 + 2 * n].event_code) == ("S", "Q")
    assert [(itch.message_type(m), m.event_code) for m in msgs[-3:]] == \
        [("S", "M"), ("S", "E"), ("S", "C")]
    assert sum(itch.message_type(m) == "S" for m in msgs) == 5


def test_all_types_exercised():
    """A mid-sized session uses every modelled type, halts included."""
    cfg = MarketConfig(symbols=4, messages=4_000, seed=8, halt_rate=0.005, halt_messages=30)
    counts = Counter(itch.message_type(m) for m in MarketGenerator(cfg))
    assert set(counts) == set("SRHAFECXDUP")
    assert counts["H"] > 2 * cfg.symbols    # some halts/resumptions after the opening spin


def test_smallest_valid_session():
    """messages = 2*symbols + 5 is the minimum: announcements and system events only."""
    cfg = MarketConfig(symbols=3, messages=11, seed=1)
    msgs = list(MarketGenerator(cfg))
    assert [itch.message_type(m) for m in msgs] == list("SRRRHHHSSSS")


@pytest.mark.parametrize("kwargs", [
    {"symbols": 0}, {"symbols": -1}, {"symbols": 65_536},
    {"symbols": 3, "messages": 10}, {"symbols": 1, "messages": 0},
    {"rate": 0.0}, {"rate": -5.0}, {"rate": float("nan")},
    {"symbols": 3, "late_symbols": 2, "unnamed_symbols": 2}, {"late_symbols": -1},
])
def test_invalid_config(kwargs):
    """Impossible configurations are refused with ValueError."""
    with pytest.raises(ValueError):
        MarketConfig(**kwargs)


def test_mid_session_feed_names_late_symbols_after_their_first_adds():
    """late_symbols: R and H only after the symbol's first adds; unnamed_symbols: never an R.
    Everything else is a normal session (the invariants hold once the names are known)."""
    cfg = MarketConfig(symbols=6, messages=3_000, seed=3, late_symbols=2, unnamed_symbols=1)
    msgs = list(MarketGenerator(cfg))
    assert len(msgs) == cfg.messages
    first: dict[tuple[int, str], int] = {}
    for n, m in enumerate(msgs):
        first.setdefault((m.locate, itch.message_type(m)), n)
    for locate in (1, 2):       # late: adds, then R, then H
        assert first[(locate, "A")] < first[(locate, "R")] < first[(locate, "H")]
    assert (6, "R") not in first and first[(6, "H")] > first[(6, "A")]
    for locate in (3, 4, 5):    # on time: announced before anything else names them
        named = [n for (loc, kind), n in first.items() if loc == locate and kind != "R"]
        assert first[(locate, "R")] < min(named)
    checker = Checker()         # the names as a card that saw them all would know them
    checker.names = {m.locate: m.stock for m in msgs if itch.message_type(m) in "AF"}
    checker.state = dict.fromkeys(checker.names, "T")
    for m in msgs:
        if itch.message_type(m) not in "RH":
            checker.feed(m)


def test_same_seed_same_bytes_different_seed_different():
    """The feed is a pure function of the config: same seed, same bytes; new seed, new bytes."""
    def feed(seed):
        return itch.write_file(MarketGenerator(MarketConfig(symbols=5, messages=2_000,
                                                            seed=seed)))
    first = feed(17)
    assert feed(17) == first
    assert feed(18) != first


def test_generated_messages_are_canonical(session):
    """Each generated message equals its own encode/decode round trip."""
    _, msgs = session
    for m in msgs:
        assert itch.decode(itch.encode(m)) == m


# --- MoldUDP64 packing and pcap output ----------------------------------------------------

MIDNIGHT_NS = calendar.timegm((2026, 11, 20, 0, 0, 0)) * 1_000_000_000


def unpack(frames):
    """(capture ns, UDP payload, MoldPacket) per frame, headers parsed by dpkt."""
    out = []
    for ts, frame in frames:
        ip = dpkt.ethernet.Ethernet(frame).data
        assert isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP)
        payload = bytes(ip.data.data)
        out.append((ts, payload, mold.decode(payload)))
    return out


@pytest.fixture(scope="module")
def feed():
    cfg = MarketConfig(symbols=6, messages=3_000, seed=21)
    return cfg, list(MarketGenerator(cfg))


@pytest.fixture(scope="module")
def clean(feed):
    cfg, msgs = feed
    return unpack(pcap_frames(msgs, PcapOptions(), cfg.seed))


def test_clean_pcap_sequences_and_content(feed, clean):
    """Without faults: contiguous sequences from 1, every message once in order, EOS last."""
    _, msgs = feed
    expected = 1
    carried = []
    for _, _, pkt in clean[:-1]:
        assert pkt.session == b"NERVE00001"
        assert not pkt.is_heartbeat and not pkt.is_end_of_session
        assert pkt.sequence == expected
        expected += pkt.count
        carried += pkt.messages
    assert carried == [itch.encode(m) for m in msgs]
    last = clean[-1][2]
    assert last.is_end_of_session and last.sequence == len(msgs) + 1


def test_clean_pcap_packet_limits_and_times(feed, clean):
    """Payloads fit 1400 bytes, a packet spans at most 5 us, capture time = last message time."""
    _, msgs = feed
    stamps = {itch.encode(m): m.timestamp for m in msgs}   # bodies are unique (unique refs)
    data = clean[:-1]
    for ts, payload, pkt in data:
        assert len(payload) <= MAX_PAYLOAD
        first, last = pkt.messages[0], pkt.messages[-1]
        assert stamps[last] - stamps[first] <= WINDOW_NS
        assert ts == MIDNIGHT_NS + stamps[last]
    # greedy packing: the next packet's first message would not have fitted the previous one
    for (_, payload, pkt), (_, _, nxt) in zip(data, data[1:], strict=False):
        head = nxt.messages[0]
        assert (len(payload) + 2 + len(head) > MAX_PAYLOAD
                or stamps[head] - stamps[pkt.messages[0]] > WINDOW_NS)
    times = [ts for ts, _, _ in clean]
    assert times == sorted(times)
    assert clean[-1][0] > clean[-2][0]


def test_packets_grouping_by_hand():
    """packets() closes on the payload budget and on the time window (strictly greater)."""
    body = b"x" * 36
    msgs = [(0, body), (10, body), (20, body), (5_020, body), (5_021, body)]
    # budget 100: 20 + 2 * 38 = 96 fits two 36-byte messages, not three
    got = list(packets(iter(msgs), max_payload=100, window_ns=5_000))
    assert got == [(10, [body, body]), (5_020, [body, body]), (5_021, [body])]
    got = list(packets(iter(msgs), max_payload=1_400, window_ns=5_000))
    assert got == [(20, [body] * 3), (5_021, [body, body])]
    edge = [(0, body), (5_000, body), (5_001, body)]   # exactly at the window still fits
    assert list(packets(iter(edge), window_ns=5_000)) == [(5_000, [body] * 2), (5_001, [body])]
    assert list(packets(iter([]))) == []


def receiver(unpacked):
    """A MoldUDP64 receiver: counts gaps (sequence jumps) and duplicates (old sequences)."""
    expected, jumps, skipped, dups = 1, 0, 0, 0
    for _, _, pkt in unpacked:
        if pkt.is_end_of_session:
            if pkt.sequence > expected:
                jumps += 1
                skipped += pkt.sequence - expected
            continue
        if pkt.sequence < expected:
            dups += 1
            continue
        if pkt.sequence > expected:
            jumps += 1
            skipped += pkt.sequence - expected
        expected = pkt.sequence + pkt.count
    return jumps, skipped, dups


@pytest.mark.parametrize("gaps,duplicates", [(0, 0), (1, 0), (7, 0), (0, 1), (0, 9), (6, 6),
                                             (25, 25), (60, 60)])   # 25, 60: drop/dup overlap
def test_injected_faults(feed, clean, gaps, duplicates):
    """gaps=K drops exactly K data packets, duplicates=K sends exactly K data packets twice."""
    cfg, msgs = feed
    faulty = unpack(pcap_frames(msgs, PcapOptions(gaps=gaps, duplicates=duplicates), cfg.seed))
    clean_payloads = [p for _, p, _ in clean]
    got = Counter(p for _, p, _ in faulty)
    assert set(got) <= set(clean_payloads), "a faulty packet is not one of the clean packets"
    missing = [p for p in clean_payloads if p not in got]
    assert len(missing) == gaps
    assert sorted(got.values()) == [1] * (len(got) - duplicates) + [2] * duplicates
    assert faulty[-1][1] == clean[-1][1], "end of session must stay last and unchanged"
    assert len(faulty) == len(clean) - gaps + duplicates
    # order is kept: removing repeats gives the clean sequence minus the dropped packets
    deduped = [p for i, (_, p, _) in enumerate(faulty) if i == 0 or p != faulty[i - 1][1]]
    assert deduped == [p for p in clean_payloads if p in got]
    jumps, skipped, dups = receiver(faulty)
    assert dups == duplicates
    assert skipped == sum(mold.decode(p).count for p in missing)
    assert (jumps == 0) == (gaps == 0) and jumps <= gaps


@pytest.mark.parametrize("malformed", [1, 5])
def test_malformed_messages_are_one_byte_too_long(feed, malformed):
    """malformed=K sends exactly K messages with a trailing byte, each otherwise the clean
    message, and the decoder refuses each of them; everything else is unchanged."""
    cfg, msgs = feed
    faulty = unpack(pcap_frames(msgs, PcapOptions(malformed=malformed), cfg.seed))
    carried = [body for _, _, pkt in faulty[:-1] for body in pkt.messages]
    clean = [itch.encode(m) for m in msgs]
    assert len(carried) == len(clean)
    changed = [(got, want) for got, want in zip(carried, clean, strict=True) if got != want]
    assert len(changed) == malformed
    for got, want in changed:
        assert got == want + b"\0"
        assert decoder.decode(got) is decoder.MALFORMED, f"decoded {got[:1]!r}"


def test_fault_injection_is_deterministic(feed):
    """The same seed drops and repeats the same packets."""
    cfg, msgs = feed
    opts = PcapOptions(gaps=5, duplicates=5)
    assert list(pcap_frames(msgs, opts, cfg.seed)) == list(pcap_frames(msgs, opts, cfg.seed))


# --- generate(): files on disk -------------------------------------------------------------

def test_generate_itch_file(tmp_path):
    """generate() writes a NASDAQ file that decodes back to the generator's messages."""
    cfg = MarketConfig(symbols=5, messages=2_500, seed=31)
    summary = generate(cfg, tmp_path / "day.itch")
    expected = list(MarketGenerator(cfg))
    data = (tmp_path / "day.itch").read_bytes()
    assert list(itch.read_file(data)) == expected
    assert summary["messages"] == cfg.messages == len(expected)
    assert summary["by_type"] == dict(Counter(itch.message_type(m) for m in expected))
    assert summary["bytes"] == len(data)


def test_generate_pcap_file(tmp_path):
    """generate() writes a pcap whose MoldUDP64 packets carry the same messages, in order."""
    cfg = MarketConfig(symbols=5, messages=2_500, seed=32)
    dst = net.UdpEndpoint("239.1.2.3", 31_000)
    out = tmp_path / "sub" / "day.pcap"
    summary = generate(cfg, out, pcap=PcapOptions(dst=dst, date=dt.date(2025, 1, 2)))
    frames = list(net.read_pcap(out.read_bytes()))
    assert summary["frames"] == len(frames)
    unpacked = unpack(frames)
    carried = [itch.decode(b) for _, _, pkt in unpacked for b in pkt.messages]
    assert carried == list(MarketGenerator(cfg))
    assert unpacked[-1][2].is_end_of_session
    for _, frame in frames:
        ip = dpkt.ethernet.Ethernet(frame).data
        assert ip.dst == bytes([239, 1, 2, 3]) and ip.data.dport == 31_000
    midnight = calendar.timegm((2025, 1, 2, 0, 0, 0)) * 1_000_000_000
    assert midnight < frames[0][0] < midnight + 86_400 * 1_000_000_000


def test_generate_is_reproducible(tmp_path):
    """Two runs with the same config write identical pcap bytes."""
    cfg = MarketConfig(symbols=3, messages=1_500, seed=33)
    opts = PcapOptions(gaps=2, duplicates=2)
    generate(cfg, tmp_path / "a.pcap", pcap=opts)
    generate(cfg, tmp_path / "b.pcap", pcap=opts)
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes()


def test_generate_rejects_other_extensions(tmp_path):
    """Only .itch and .pcap outputs are accepted."""
    cfg = MarketConfig(symbols=1, messages=100, seed=1)
    for name in ("day.csv", "day", "day.pcapng"):
        with pytest.raises(ValueError):
            generate(cfg, tmp_path / name)
    assert not any(tmp_path.iterdir())


# --- market regimes ---------------------------------------------------------------------------

UP = Regime("trending", 1, direction=1, every=10, ticks=2)
DOWN = Regime("trending", 1, direction=-1, every=5, ticks=4)
QUIET = Regime("quiet", 1)
SHOCKED = Regime("quiet", 1, shock_rate=0.05, shock_ticks=3)    # a shock every 20 events
REGIME_CONFIGS = [
    MarketConfig(symbols=1, messages=6_000, seed=1, regimes=(UP,)),
    MarketConfig(symbols=1, messages=6_000, seed=2, regimes=(DOWN,)),   # down to the floor
    MarketConfig(symbols=1, messages=6_000, seed=3, regimes=(QUIET,)),
    MarketConfig(symbols=2, messages=6_000, seed=4, regimes=(SHOCKED,)),
    MarketConfig(symbols=30, messages=6_000, seed=5, halt_rate=0.01, halt_messages=40,
                 regimes=(Regime("normal", 1), UP, QUIET, DOWN, SHOCKED)),
    MarketConfig(symbols=3, messages=6_000, seed=6, max_orders_per_symbol=20,
                 regimes=(SHOCKED, UP, Regime("normal", 1), DOWN)),
]


@pytest.mark.parametrize("cfg", REGIME_CONFIGS, ids=lambda c: "-".join(
    r.kind[0] + ("" if r.kind != "trending" else "+-"[r.direction < 0]) for r in c.regimes))
def test_invariants_hold_in_every_regime(cfg):
    """Each regime, alone or in sequence, keeps every invariant of the module doc, the exact
    message count and the session's shape; the same config gives the same bytes."""
    msgs = list(MarketGenerator(cfg))
    assert len(msgs) == cfg.messages
    checker = Checker()
    for msg in msgs:
        checker.feed(msg)
    assert sorted(checker.names) == list(range(1, cfg.symbols + 1))
    assert [(itch.message_type(m), m.event_code) for m in msgs[-3:]] == \
        [("S", "M"), ("S", "E"), ("S", "C")]
    for m in msgs:
        assert itch.decode(itch.encode(m)) == m
    assert itch.write_file(MarketGenerator(cfg)) == itch.write_file(msgs)


def test_no_regimes_keeps_the_original_bytes():
    """Without regimes, or with only normal ones, the generator writes the bytes it wrote
    before regimes existed (SHA-256 taken from that version)."""
    pinned = {
        "df7b9a651d00f329689ee4b82de48d1d69fefb19c5b28263a6dd1f73e0aef417":
            {"symbols": 6, "messages": 12_000, "seed": 3, "rate": 20_000.0},
        "0c93ddd7ef7dfa76d6334e2a38c2d61ea426104883ff5c5530489567536ef076":
            {"symbols": 30, "messages": 3_000, "seed": 4, "halt_rate": 0.01,
             "halt_messages": 40},
        "a25921e3f024048dc7fa66b43ff637cd95e5d28cca2641a3c363f5c07dd97ed3":
            {"symbols": 6, "messages": 3_000, "seed": 3, "late_symbols": 2,
             "unnamed_symbols": 1},
    }
    for digest, kwargs in pinned.items():
        for regimes in ((), (Regime("normal", 3),), [Regime(), Regime()]):
            data = itch.write_file(MarketGenerator(MarketConfig(**kwargs, regimes=regimes)))
            assert hashlib.sha256(data).hexdigest() == digest, (kwargs, regimes)


def body_spans(cfg):
    """(regime, first, end) of each regime in message indexes (no late or unnamed symbols)."""
    generator = MarketGenerator(cfg)
    msgs = list(generator)
    return generator, msgs, [(r, cfg.header_messages + a, cfg.header_messages + b)
                             for r, a, b in generator.spans]


def displayed(msgs, locate=1):
    """The displayed book after each message: (best bid, best ask), 0 for an empty side."""
    checker = Checker()
    out = []
    for m in msgs:
        checker.feed(m)
        out.append((checker.best(locate, "B") or 0, checker.best(locate, "S") or 0))
    return out


def test_regimes_split_the_session_by_their_shares():
    """Shares are relative; the spans cover the body in order, without gaps."""
    cfg = MarketConfig(symbols=2, messages=10_009, seed=1,   # a body of 10,000
                       regimes=(Regime("quiet", 1), Regime("normal", 0.5), UP))
    generator, _, spans = body_spans(cfg)
    body = cfg.messages - cfg.header_messages - 3
    assert [(a, b) for _, a, b in generator.spans] == [(0, 4_000), (4_000, 6_000),
                                                       (6_000, body)]
    assert [r.kind for r, _, _ in spans] == ["quiet", "normal", "trending"]


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_trend_moves_the_displayed_mid_its_way_by_the_stated_amount(direction, seed):
    """A trending regime moves the mid ticks x (the symbol's events in it // every) ticks its
    way (module doc); the displayed book follows to within 10 ticks, where normal on both sides
    of it stays within 10 ticks of where it was."""
    trend = Regime("trending", 2, direction=direction, every=10, ticks=2)
    cfg = MarketConfig(symbols=1, messages=8_000, seed=seed, halt_rate=0.0,
                       regimes=(Regime("normal", 1), trend, Regime("normal", 1)))
    generator, msgs, spans = body_spans(cfg)
    book = displayed(msgs)

    def mid_before(index):          # the last two-sided mid before message `index`, in ticks
        bid, ask = next(b for b in reversed(book[:index]) if b[0] and b[1])
        return (bid + ask) / 2 / TICK

    (_, a, _), (_, t0, t1), (_, _, b) = spans
    stated = generator.symbols[0].trend_events // trend.every * trend.ticks
    assert stated >= 600                    # a real move: ~2,900 events of the symbol
    assert abs(mid_before(t1) - mid_before(t0) - direction * stated) <= 10
    assert abs(mid_before(t0) - mid_before(a + 100)) <= 10
    assert abs(mid_before(b) - mid_before(t1 + 100)) <= 10


def test_a_trend_eats_the_side_it_moves_through():
    """Executions in an up trend hit the asks (sweeps and four in five of the others), in a
    down trend the bids (one that stays clear of the price floor)."""
    for regime, eaten in ((UP, "S"), (Regime("trending", 1, direction=-1, every=10), "B")):
        cfg = MarketConfig(symbols=1, messages=6_000, seed=7, halt_rate=0.0,
                           regimes=(regime,))
        side_of = {}
        hits = Counter()
        for m in MarketGenerator(cfg):
            t = itch.message_type(m)
            if t in "AF":
                side_of[m.ref] = m.side
            elif t == "U":
                side_of[m.new_ref] = side_of[m.ref]
            elif t in "EC":
                hits[side_of[m.ref]] += 1
        assert hits[eaten] > 4 * hits["BS".replace(eaten, "")]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_quiet_trades_less_and_keeps_a_one_tick_touch(seed):
    """In a quiet regime after a normal one: fewer executions and prints per message (E, C, P)
    than normal, a one-tick touch at least 90% of the time and a mid within 15 ticks."""
    cfg = MarketConfig(symbols=1, messages=12_000, seed=seed, halt_rate=0.0,
                       regimes=(Regime("normal", 1), QUIET))
    _, msgs, spans = body_spans(cfg)
    book = displayed(msgs)
    rates = {}
    for regime, a, b in spans:
        rates[regime.kind] = sum(itch.message_type(m) in "ECP" for m in msgs[a:b]) / (b - a)
    assert rates["quiet"] < 0.75 * rates["normal"], rates
    _, a, b = spans[1]
    settled = [(bid, ask) for bid, ask in book[a + (b - a) // 4:b] if bid and ask]
    assert sum(ask - bid == TICK for bid, ask in settled) >= 0.9 * len(settled)
    mids = [(bid + ask) / 2 for bid, ask in settled]
    assert (max(mids) - min(mids)) / TICK <= 15


@pytest.mark.parametrize("kwargs", [
    {"kind": "choppy"}, {"share": 0.0}, {"share": -1.0}, {"share": float("inf")},
    {"direction": 0}, {"every": 0}, {"ticks": 0}, {"shock_ticks": 0}, {"shock_rate": 1.5},
])
def test_invalid_regime(kwargs):
    with pytest.raises(ValueError):
        Regime(**kwargs)


def test_parse_regimes():
    assert parse_regimes("normal:1,trending:2:down:every=7:ticks=4,quiet:0.5:shock_rate=0.01") \
        == (Regime("normal", 1.0), Regime("trending", 2.0, direction=-1, every=7, ticks=4),
            Regime("quiet", 0.5, shock_rate=0.01))
    assert parse_regimes("Trending:1:up") == (Regime("trending", 1.0, direction=1),)


@pytest.mark.parametrize(("text", "message"), [
    ("trendy:1", "regime 'trendy:1': unknown kind 'trendy' (expected normal, trending, quiet)"),
    ("quiet", "regime 'quiet' must be KIND:SHARE"),
    ("normal:1,", "regime '' must be KIND:SHARE"),
    ("quiet:0", "regime 'quiet:0': SHARE must be a positive number, not '0'"),
    ("normal:lots", "regime 'normal:lots': SHARE must be a positive number, not 'lots'"),
    ("trending:1:sideways", "regime 'trending:1:sideways': unknown option 'sideways' for "
                            "trending (expected up, down, every=N, ticks=N)"),
    ("normal:1:up", "unknown option 'up' for normal (expected none)"),
    ("quiet:1:shock_rate=often", "regime 'quiet:1:shock_rate=often': shock_rate must be a "
                                 "number, not 'often'"),
    ("trending:1:every=0", "regime 'trending:1:every=0': regime every, ticks and shock_ticks "
                           "must be at least 1"),
])
def test_gen_refuses_a_bad_regime_and_says_why(tmp_path, capsys, text, message):
    """nerve gen --regime: a bad value is a usage error (exit 2) naming the part and the fix;
    nothing is written."""
    with pytest.raises(SystemExit) as exited:
        main(["gen", "--symbols", "2", "--messages", "500", "--regime", text,
              "--out", str(tmp_path / "x.itch")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "nerve gen: error: argument --regime: " in err and message in err, err
    assert not (tmp_path / "x.itch").exists()


def test_gen_writes_the_regimes_it_is_given(tmp_path, capsys):
    out = tmp_path / "day.itch"
    assert main(["gen", "--symbols", "2", "--messages", "3000", "--seed", "5", "--regime",
                 "normal:1,trending:2:down:every=5,quiet:1", "--out", str(out)]) == 0
    cfg = MarketConfig(symbols=2, messages=3_000, seed=5, regimes=(
        Regime("normal", 1), Regime("trending", 2, direction=-1, every=5), Regime("quiet", 1)))
    assert out.read_bytes() == itch.write_file(MarketGenerator(cfg))
    assert "wrote" in capsys.readouterr().out

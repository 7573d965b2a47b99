"""FIX order encoder RTL (hw/rtl/encoder.py), unit tier: Amaranth simulator against the model.

The scoreboard is `sw.model.encoder.Encoder`, bit for bit: every message on the egress (split
at first/last) equals the model's bytes for the same order, config and MsgSeqNum, and passes
QuickFIX's FIX 4.4 dictionary (sw/fix/dictionary.py); every OrderEvent equals the command passed
through with its MsgSeqNum and the cycle its first beat left. The traffic shape (idle gaps on
the input, backpressure on the egress and on the events) is a parameter of the harness.
"""

import datetime as dt
import random
from collections import deque

import pytest
from amaranth.sim import Simulator

from hw.rtl.encoder import (
    DAY_CYCLES,
    DEFAULT_CONFIG,
    LATENCY,
    MAX_NUMBER,
    OrderEncoder,
    ascii_word,
    config_values,
    registers,
)
from hw.rtl.records import EncodeCommand, FrameBeat, OrderEvent, OrderKind, OrderRecord, pack
from hw.rtl.records import unpack as unpack_word
from sw.fix.dictionary import validate
from sw.model.clock import CYCLES_PER_MS
from sw.model.encoder import Encoder

MSG_TYPE = {OrderKind.NEW: "D", OrderKind.REPLACE: "G", OrderKind.CANCEL: "F"}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = LETTERS + "abcdefghijklmnopqrstuvwxyz0123456789"
PRINTABLE = ALNUM + "-._:/ "


class Order:
    """One command: what the encoder is given and what the model is asked."""

    def __init__(self, kind=OrderKind.NEW, clordid=1, orig=0, symbol="AAPL", side=0,
                 price=1_234_500, qty=100, ioc=0, cycle=0, rejected=0, index=0):
        self.kind, self.clordid, self.orig, self.symbol = kind, clordid, orig, symbol
        self.side, self.price, self.qty, self.ioc, self.cycle = side, price, qty, ioc, cycle
        self.rejected, self.index = rejected, index

    @property
    def record(self) -> int:
        return pack(OrderRecord, (self.rejected, self.kind, self.clordid, self.orig, 3,
                                  self.side, self.price, self.qty, self.ioc, 0, 0, 0, 7,
                                  self.index, self.cycle))

    @property
    def symbol_word(self) -> int:
        return int.from_bytes(self.symbol.ljust(8).encode(), "big")

    @property
    def command(self) -> int:
        return pack(EncodeCommand, (self.record, self.symbol_word))

    @property
    def sent(self) -> bool:
        """Whether the encoder puts it on the wire (else: an event with seq 0 only)."""
        return (not self.rejected and self.kind != OrderKind.END and 0 < self.qty <= MAX_NUMBER
                and self.clordid <= MAX_NUMBER and self.symbol.strip() != ""
                and (self.kind == OrderKind.NEW or self.orig <= MAX_NUMBER))

    def encode(self, model: Encoder) -> tuple[bytes, int]:
        orig = None if self.kind == OrderKind.NEW else self.orig
        return model.encode(MSG_TYPE[self.kind], self.clordid, orig, self.symbol.rstrip(),
                            self.side, self.price, self.qty, "3" if self.ioc else "0",
                            self.cycle)


class TB:
    """Drives the encoder one cycle at a time and records every transfer.

    `egress_ready`, `event_ready`: probability that the sink is ready in a cycle; `idle`:
    probability that the source holds back a command it could present.
    """

    def __init__(self, dut: OrderEncoder, ctx, rng=None, *, egress_ready=1.0,
                 event_ready=1.0, idle=0.0, time0=0):
        self.dut, self.ctx, self.rng = dut, ctx, rng or random.Random(0)
        self.egress_ready, self.event_ready, self.idle = egress_ready, event_ready, idle
        self.cycle, self.time0 = 0, time0
        self.queue: deque[Order] = deque()
        self.presented: Order | None = None
        self.accepted: list[tuple[int, Order]] = []     # (time, order)
        self.beats: list[tuple[int, dict]] = []          # (time, FrameBeat fields)
        self.events: list[tuple[int, int]] = []          # (time, OrderEvent word)
        self.reserved: list[tuple[int, int]] = []        # (time of the strobe, number)
        self.reserve_with_next = False                   # strobe in the next accepting cycle
        self.reserve_now = False

    @property
    def now(self) -> int:
        return self.time0 + self.cycle

    def configure(self, **values):
        for name, value in values.items():
            self.ctx.set(getattr(self.dut.config, name), value)

    def send(self, *orders: Order):
        self.queue.extend(orders)

    async def tick(self):
        ctx, dut, rng = self.ctx, self.dut, self.rng
        ctx.set(dut.time, self.now)
        if self.presented is None and self.queue and rng.random() >= self.idle:
            self.presented = self.queue.popleft()
            ctx.set(dut.i_command.p.as_value(), self.presented.command)
        ctx.set(dut.i_command.valid, self.presented is not None)
        ctx.set(dut.o_egress.ready, rng.random() < self.egress_ready)
        ctx.set(dut.o_event.ready, rng.random() < self.event_ready)
        taken = self.presented is not None and ctx.get(dut.i_command.ready)
        reserve = self.reserve_now or (self.reserve_with_next and taken)
        ctx.set(dut.seq_reserve, reserve)
        if taken:
            self.accepted.append((self.now, self.presented))
            self.presented = None
            self.reserve_with_next = False
        if ctx.get(dut.o_egress.valid) and ctx.get(dut.o_egress.ready):
            beat = unpack_word(FrameBeat, ctx.get(dut.o_egress.p.as_value()))
            self.beats.append((self.now, beat))
        if ctx.get(dut.o_event.valid) and ctx.get(dut.o_event.ready):
            self.events.append((self.now, ctx.get(dut.o_event.p.as_value())))
        strobe_time = self.now
        await ctx.tick()
        self.cycle += 1
        ctx.set(dut.seq_reserve, 0)
        self.reserve_now = False
        if reserve:
            self.reserved.append((strobe_time, ctx.get(dut.seq_reserved)))

    async def set_seq(self, value: int):
        self.ctx.set(self.dut.seq_set.valid, 1)
        self.ctx.set(self.dut.seq_set.p, value)
        await self.tick()
        self.ctx.set(self.dut.seq_set.valid, 0)

    async def run_until_idle(self, limit=100_000):
        """Tick until every queued command was taken and its bytes and event have left."""
        quiet = 0
        for _ in range(limit):
            busy = self.queue or self.presented or self.ctx.get(self.dut.o_egress.valid)
            quiet = 0 if busy else quiet + 1
            if quiet > 40:
                return
            await self.tick()
        raise AssertionError("the encoder did not go idle")

    def messages(self) -> list[tuple[int, bytes]]:
        """The egress split into messages: (time of the first beat, bytes)."""
        messages, current, started = [], None, 0
        for time, beat in self.beats:
            if current is None:
                assert beat["first"], f"beat at {time} outside a message"
                current, started = b"", time
            else:
                assert not beat["first"], f"first beat at {time} inside a message"
            count = 8
            if beat["last"]:
                count = beat["keep"].bit_length()
                assert beat["keep"] == (1 << count) - 1 and count > 0, "keep not contiguous"
            else:
                assert beat["keep"] == 0xFF, f"a partial beat at {time} that is not the last"
            current += beat["data"].to_bytes(8, "little")[:count]
            if beat["last"]:
                messages.append((started, current))
                current = None
        assert current is None, "the egress stopped inside a message"
        return messages


def simulate(script, dut=None, **traffic) -> TB:
    dut = dut or OrderEncoder()
    sim = Simulator(dut)
    sim.add_clock(6.4e-9)
    tbs = []

    async def bench(ctx):
        tbs.append(TB(dut, ctx, **traffic))
        await script(tbs[0])

    sim.add_testbench(bench)
    sim.run()
    return tbs[0]


def check_against_model(tb: TB, models: list[tuple[int, Encoder]]):
    """Scoreboard: the messages and events against the model, `models` being (the time from
    which it applies, model) in order (one per config phase)."""
    messages = tb.messages()
    expected_events, expected_messages = [], []
    sent = iter(messages)
    for time, order in tb.accepted:
        model = [mdl for since, mdl in models if since <= time][-1]
        if not order.sent:
            expected_events.append(pack(OrderEvent, (order.record, order.symbol_word, 0, time)))
            continue
        raw, seq = order.encode(model)
        first_time, message = next(sent)
        expected_messages.append(raw)
        assert message == raw, f"order at {time}:\n got {message!r}\nwant {raw!r}"
        expected_events.append(pack(OrderEvent, (order.record, order.symbol_word, seq,
                                                 first_time)))
    assert [m for _, m in messages] == expected_messages
    assert [word for _, word in tb.events] == expected_events
    for raw in expected_messages:
        validate(raw)
    return messages


def model_encoder(clordid_prefix: str = "NRV", **kwargs) -> Encoder:
    """The golden model with the same configuration."""
    return Encoder(clordid_prefix=clordid_prefix, **kwargs)


# --- the random campaign ------------------------------------------------------------------

def random_config(rng: random.Random) -> dict:
    def word(alphabet, low, high):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))
        return text if not text or text[0] != " " else "X" + text[1:]
    day = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(36_500))
    return {"sender": word(PRINTABLE, 1, 8).rstrip() or "S", "target": word(PRINTABLE, 1, 8),
            "clordid_prefix": word(ALNUM, 0, 8), "trade_date": day}


def random_order(rng: random.Random, index: int) -> Order:
    kind = rng.choice((OrderKind.NEW, OrderKind.NEW, OrderKind.REPLACE, OrderKind.CANCEL))
    roll = rng.random()
    edges = (0, 1, 9_999, 10_000, 99_999_999, 999_999_999, (1 << 32) - 1)
    order = Order(
        kind=kind, clordid=rng.choice((rng.randint(1, MAX_NUMBER), 1, MAX_NUMBER)),
        orig=rng.randint(0, MAX_NUMBER),
        symbol="".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 8))),
        side=rng.randrange(2),
        price=rng.choice((rng.randrange(1 << 32), rng.randrange(10**7), rng.choice(edges))),
        qty=rng.choice((rng.randint(1, MAX_NUMBER), rng.randint(1, 1000), 1, MAX_NUMBER)),
        ioc=rng.randrange(2),
        cycle=rng.choice((rng.randrange(DAY_CYCLES), rng.choice((0, DAY_CYCLES - 1)),
                          rng.randrange(86_400) * 1000 * CYCLES_PER_MS - rng.randrange(2))),
        rejected=int(roll < 0.15), index=index)
    if 0.15 <= roll < 0.2:     # not encodable: an event with seq 0, no bytes, no number
        field = rng.choice(("qty0", "qty", "clordid", "orig", "symbol"))
        order.qty = {"qty0": 0, "qty": MAX_NUMBER + 1}.get(field, order.qty)
        if field == "clordid":
            order.clordid = MAX_NUMBER + 1 + rng.randrange(1 << 20)
        if field == "orig":
            order.kind, order.orig = OrderKind.CANCEL, MAX_NUMBER + 1
        if field == "symbol":
            order.symbol = ""
    return order


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_campaign_matches_the_golden_model(seed):
    rng = random.Random(seed)
    models: list[tuple[int, Encoder]] = []
    shapes = [dict(egress_ready=1.0, event_ready=1.0, idle=0.0),
              dict(egress_ready=0.6, event_ready=0.8, idle=0.3),
              dict(egress_ready=0.9, event_ready=0.3, idle=0.05),
              dict(egress_ready=0.3, event_ready=1.0, idle=0.6)]

    async def script(tb: TB):
        index = 0
        first_seq = rng.randint(1, 10**7)
        await tb.set_seq(first_seq)
        for shape in shapes:
            config = random_config(rng)
            tb.configure(**config_values(config["sender"], config["target"],
                                         config["clordid_prefix"],
                                         config["trade_date"].strftime("%Y%m%d")))
            tb.egress_ready, tb.event_ready, tb.idle = (shape["egress_ready"],
                                                        shape["event_ready"], shape["idle"])
            await tb.tick()
            first_seq = tb.ctx.get(tb.dut.next_seq)
            models.append((tb.now, model_encoder(**config, first_seq=first_seq)))
            for _ in range(60):
                tb.send(random_order(rng, index))
                index += 1
            await tb.run_until_idle()

    tb = simulate(script, rng=rng)
    messages = check_against_model(tb, models)
    kinds = {raw.split(b"\x0135=")[1][:1] for _, raw in messages}
    assert kinds == {b"D", b"G", b"F"}
    assert len(messages) > 150 and len(tb.events) == 240


# --- latency and throughput ---------------------------------------------------------------

@pytest.mark.parametrize("lengths", ["shortest", "longest"])
def test_latency_and_back_to_back_messages(lengths):
    """Idle: the first beat is on the egress LATENCY cycles after the command is taken (each
    order once from idle, with new digits everywhere, so a field converted late would show).
    Then the same orders waiting back to back: one beat every cycle from the first message's
    first beat to the last message's last beat, ceil(bytes / 8) cycles per message."""
    short = lengths == "shortest"
    sender, target, prefix = ("S", "T", "") if short else ("SENDER01", "TARGET01", "PREFIX01")
    symbol = "Z" if short else "ABCDEFGH"
    kinds = [OrderKind.NEW, OrderKind.REPLACE, OrderKind.CANCEL] * 2
    orders = [Order(kind=k, clordid=11_111_111 * (n + 1), orig=1_234_567 * (n + 1),
                    symbol=symbol, side=n % 2, ioc=n % 2, price=(987_654_321 * (n + 1)) % (1 << 32),
                    qty=2_345_678 * (n + 1),
                    cycle=(n + 1) * 11_111_111 * CYCLES_PER_MS + n, index=n)
              for n, k in enumerate(kinds)]
    latencies = []

    async def script(tb: TB):
        tb.configure(**config_values(sender, target, prefix, "20261120"))
        await tb.set_seq(12_345_678)
        for order in orders:
            await tb.run_until_idle()
            tb.send(order)
            await tb.tick()
            accepted = tb.accepted[-1][0]
            while not tb.ctx.get(tb.dut.o_egress.valid):
                await tb.tick()
            latencies.append(tb.now - accepted)
        await tb.run_until_idle()
        tb.send(*orders)
        await tb.run_until_idle()

    tb = simulate(script)
    assert latencies == [LATENCY] * len(orders)
    date = dt.date(2026, 11, 20)
    check_against_model(tb, [(0, model_encoder(sender=sender, target=target,
                                               clordid_prefix=prefix, trade_date=date,
                                               first_seq=12_345_678))])
    messages = tb.messages()
    burst = [time for time, _ in tb.beats][-sum(-(-len(raw) // 8) for _, raw in messages[6:]):]
    assert burst == list(range(burst[0], burst[0] + len(burst))), "a bubble between beats"
    for (start, raw), (after, _) in zip(messages[6:], messages[7:], strict=False):
        assert after - start == -(-len(raw) // 8)
    assert sorted({len(raw) for _, raw in messages}) == (
        [146, 159, 171] if short else [183, 188, 208])


# --- MsgSeqNum shared with the host -------------------------------------------------------

def test_sequence_numbers_are_shared_with_host_reserves_and_sets():
    """Orders and host reserves draw from one counter without gaps or repeats; in one cycle
    the order takes its number first and the reserve the next; seq_set applies after them."""
    orders = [Order(clordid=n + 1, index=n) for n in range(6)]

    async def script(tb: TB):
        await tb.set_seq(500)
        tb.reserve_now = True
        await tb.tick()                               # 500: host
        tb.reserve_with_next = True
        tb.send(orders[0])                            # 501 order, 502 host, same cycle
        await tb.run_until_idle()
        tb.reserve_now = True
        await tb.tick()                               # 503: host
        tb.send(orders[1])                            # waits for the new BCD: 504
        await tb.run_until_idle()
        tb.ctx.set(tb.dut.seq_set.valid, 1)           # set and reserve in one cycle:
        tb.ctx.set(tb.dut.seq_set.p, 9_000)           # the reserve takes 505, next is 9000
        tb.reserve_now = True
        await tb.tick()
        tb.ctx.set(tb.dut.seq_set.valid, 0)
        tb.send(orders[2], orders[3])                 # 9000, 9001
        await tb.run_until_idle()
        for bad in (0, MAX_NUMBER + 1):               # ignored
            await tb.set_seq(bad)
        tb.send(orders[4])                            # 9002
        await tb.run_until_idle()
        assert tb.ctx.get(tb.dut.next_seq) == 9_003

    tb = simulate(script)
    seqs = [unpack_word(OrderEvent, word)["seq"] for _, word in tb.events]
    assert [n for _, n in tb.reserved] == [500, 502, 503, 505]
    assert seqs == [501, 504, 9_000, 9_001, 9_002]
    same_cycle = tb.reserved[1][0]
    assert same_cycle == tb.accepted[0][0]
    for seq, (_, raw) in zip(seqs, tb.messages(), strict=True):
        assert b"\x0134=%08d\x01" % seq in raw
        validate(raw)


def test_last_number_goes_to_the_order_and_its_cycles_reserve_gets_none():
    async def script(tb: TB):
        await tb.set_seq(MAX_NUMBER)
        tb.reserve_with_next = True
        tb.send(Order(clordid=1))                     # 99,999,999 to the order, 0 to the host
        await tb.run_until_idle()
        assert tb.ctx.get(tb.dut.next_seq) == MAX_NUMBER + 1

    tb = simulate(script)
    assert [unpack_word(OrderEvent, w)["seq"] for _, w in tb.events] == [MAX_NUMBER]
    assert [n for _, n in tb.reserved] == [0]
    assert tb.reserved[0][0] == tb.accepted[0][0]


def test_exhausted_counter_stops_orders_until_the_host_sets_it():
    async def script(tb: TB):
        await tb.set_seq(MAX_NUMBER)
        tb.send(Order(clordid=1), Order(clordid=2))
        for _ in range(200):
            await tb.tick()
        assert len(tb.accepted) == 1 and tb.ctx.get(tb.dut.next_seq) == MAX_NUMBER + 1
        tb.reserve_now = True
        await tb.tick()                               # nothing left: 0
        await tb.set_seq(7)
        await tb.run_until_idle()

    tb = simulate(script)
    assert [unpack_word(OrderEvent, w)["seq"] for _, w in tb.events] == [MAX_NUMBER, 7]
    assert [n for _, n in tb.reserved] == [0]
    assert b"\x0134=99999999\x01" in tb.messages()[0][1]


# --- commands that put nothing on the wire ------------------------------------------------

def test_rejects_and_unencodable_orders_report_seq_zero_and_take_no_number():
    orders = [Order(rejected=1, clordid=0, qty=100), Order(qty=0), Order(qty=MAX_NUMBER + 1),
              Order(clordid=MAX_NUMBER + 1), Order(kind=OrderKind.REPLACE, orig=MAX_NUMBER + 1),
              Order(symbol=""), Order(kind=OrderKind.END), Order(clordid=42)]

    async def script(tb: TB):
        await tb.set_seq(10)
        tb.send(*orders)
        await tb.run_until_idle()

    tb = simulate(script)
    check_against_model(tb, [(0, Encoder(first_seq=10))])
    assert [o.sent for _, o in tb.accepted] == [False] * 7 + [True]
    assert len(tb.messages()) == 1
    assert unpack_word(OrderEvent, tb.events[-1][1])["seq"] == 10


# --- time of day ---------------------------------------------------------------------------

def test_time_of_day_is_taken_modulo_one_day_and_the_date_is_the_register():
    cycles = [DAY_CYCLES, DAY_CYCLES + 5 * CYCLES_PER_MS * 1000 + 123, 2 * DAY_CYCLES - 1,
              (1 << 64) - 1, (1 << 63) + 12_345_678_901]
    orders = [Order(clordid=n, cycle=c) for n, c in enumerate(cycles)]

    async def script(tb: TB):
        tb.send(*orders)
        await tb.run_until_idle()

    tb = simulate(script)
    model = Encoder()
    for order, (_, raw) in zip(orders, tb.messages(), strict=True):
        order.cycle %= DAY_CYCLES               # the model rolls the date; the card does not
        assert raw == order.encode(model)[0]


def test_fresh_card_encodes_like_the_model_defaults():
    orders = [Order(kind=k, clordid=5, orig=4, cycle=34_200_000 * CYCLES_PER_MS)
              for k in (OrderKind.NEW, OrderKind.REPLACE, OrderKind.CANCEL)]

    async def script(tb: TB):
        tb.send(*orders)
        await tb.run_until_idle()

    tb = simulate(script)
    check_against_model(tb, [(0, Encoder())])
    assert tb.messages()[0][1].startswith(b"8=FIX.4.4\x019=")
    assert b"52=20261120-09:30:00.000" in tb.messages()[0][1]


# --- configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    {"sender_len": 0}, {"sender_len": 9}, {"target_len": 0}, {"target_len": 15},
    {"clordid_prefix_len": 9}, {"sender": ascii_word("AB\x01")},
    {"target": ascii_word("A|B")}, {"clordid_prefix": ascii_word("NR-")},
    {"trade_date": ascii_word("2026112X")},
], ids=lambda c: "-".join(c))
def test_invalid_config_stops_the_encoder_until_fixed(change):
    log = []

    async def script(tb: TB):
        tb.configure(**change)
        await tb.tick()                 # a config is in effect one cycle after it is written
        tb.send(Order(clordid=1))
        for _ in range(50):
            await tb.tick()
        log.append((tb.ctx.get(tb.dut.config_error), len(tb.accepted), len(tb.beats)))
        tb.configure(**DEFAULT_CONFIG)
        await tb.run_until_idle()
        log.append((tb.ctx.get(tb.dut.config_error), len(tb.accepted)))

    tb = simulate(script)
    assert log == [(1, 0, 0), (0, 1)]
    check_against_model(tb, [(0, Encoder())])


def test_registers_reset_to_the_model_defaults():
    regs = {r.name: r for r in registers()}
    assert set(regs) == {"sender", "sender_len", "target", "target_len", "clordid_prefix",
                         "clordid_prefix_len", "trade_date", "config_error", "seq_set",
                         "seq_reserve", "seq_reserved", "next_seq"}
    for name, value in DEFAULT_CONFIG.items():
        assert regs[name].reset == value and regs[name].access == "rw"
    assert regs["sender"].reset == int.from_bytes(b"NERVE   ", "big")
    assert {regs[n].access for n in ("seq_set", "seq_reserve")} == {"cmd"}
    assert {regs[n].access for n in ("seq_reserved", "next_seq", "config_error")} == {"ro"}


def test_config_strings_longer_than_a_word_are_refused():
    with pytest.raises(ValueError, match="up to 8 ASCII characters, not 'NINECHARS'"):
        ascii_word("NINECHARS")
    with pytest.raises(ValueError, match="up to 8 ASCII characters"):
        config_values(sender="\xe9")

"""FIX 4.4 order encoder: the last block of the fast path, order records in, FIX bytes out.

Data flow: risk gate / order table -> OrderEncoder -> egress MAC (64-bit beats), and one
OrderEvent per command to the host. The golden model is `sw.model.encoder.Encoder`; the bytes
are the model's, bit for bit:

    8=FIX.4.4|9=LLL|35=D|49=<sender>|56=<target>|34=SSSSSSSS|52=YYYYMMDD-HH:MM:SS.sss|
    11=<prefix>CCCCCCCC|[41=<prefix>CCCCCCCC|]55=<symbol>|54=1|60=<as 52>|38=QQQQQQQQ|
    [40=2|44=PPPPPP.PPPP|59=T|]10=KKK|

How a message is built. Numeric fields are fixed width, so a message is a fixed sequence of
pieces per message type, and only five pieces vary in length: the sender and target comp ids
and the ClOrdID prefix (host configuration) and the symbol (per order). The message is cut
into steps of one to three pieces (`STEPS`), each step at least 8 bytes long except the last,
and a byte packer (a 31-byte window) appends one step per cycle and emits one full beat per
cycle. A step of at least 8 bytes per cycle is what keeps the stream free of bubbles; packing
pieces into steps at build time (instead of a multiplexer per output byte over every source
byte) keeps the multiplexers small: three slots per step, each shifted by the lengths before
it. The sender and target are pre-packed once per order with "|56=" and "|34=" between them
(`cfg` below), because those two literals are too short to make a step of their own.

Numbers in hardware. ClOrdID, OrigClOrdID, OrderQty, Price and MsgSeqNum go through one shared
binary-to-BCD converter (double dabble, unrolled and pipelined: `CONVERTER_STAGES` cycles, one
conversion per cycle): an order issues its four fields in the four cycles after it is taken,
and in every other cycle the converter re-converts the MsgSeqNum counter, so the next order's
number is ready in BCD when it arrives. SendingTime/TransactTime come from the order's
`ingress_cycle` in `TIME_STAGES` cycles: every 5-bit chunk of the cycle count has a constant
weight, stored (modulo one day) as hours, minutes, seconds, milliseconds and sub-millisecond
cycles; the chunks' entries are summed field by field and the carries resolved between the
fields. Hence the time of day is (cycle // CYCLES_PER_MS) mod 86,400,000 ms for any 64-bit
cycle: `ingress_cycle` counts cycles since midnight UTC of `trade_date`, the hardware never
rolls the date, and the host rewrites `trade_date` at midnight (an order stamped after
midnight under the old date carries the new day's time of day under the old date).

BodyLength depends only on the lengths, so it is known when the order is taken (it goes out in
beat 1, patched into the output register). CheckSum is the sum of the message's parts
(literals as one constant per message type, and the digit sums of the numbers, the time and
the strings as each is produced), so the trailer is ready long before the last body byte.
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import Register
from hw.rtl.records import (
    NUMBER_BITS,
    EncodeCommand,
    FrameBeat,
    OrderEvent,
    OrderKind,
    Side,
)
from spec.clock import CYCLES_PER_MS
from spec.fix import MAX_SEQ

#: Cycles from a command accepted on `i_command` to its first beat on `o_egress`, when idle.
LATENCY = 1
#: Pipeline depth of the binary-to-BCD converter (cycles from issue to the BCD in its field).
CONVERTER_STAGES = 6
#: Cycles from the command to its SendingTime digits (the first stage reads the input port).
TIME_STAGES = 5
#: The largest 8-digit number (ClOrdID, OrigClOrdID, OrderQty, MsgSeqNum).
MAX_NUMBER = MAX_SEQ
SOH = "\x01"

#: Host configuration. Strings are ASCII, first character in the most significant byte
#: (bits 63-56), characters past the length ignored. Bad values raise `config_error`.
EncoderConfig = data.StructLayout({
    "sender": 64, "sender_len": 4,                  # SenderCompID 49: 1..8 printable, no "|"
    "target": 64, "target_len": 4,                  # TargetCompID 56: 1..8 printable, no "|"
    "clordid_prefix": 64, "clordid_prefix_len": 4,  # 0..8 letters/digits before each ClOrdID
    "trade_date": 64,                               # YYYYMMDD, 8 ASCII digits
})


def ascii_word(text: str) -> int:
    """A string of up to 8 ASCII characters as a config word (first character most
    significant, space padded)."""
    if len(text) > 8 or not text.isascii():
        raise ValueError(f"a config string is up to 8 ASCII characters, not {text!r}")
    return int.from_bytes(text.ljust(8).encode(), "big")


def ascii_text(word: int, length: int) -> str:
    """A config word and its length register as the string they hold (`ascii_word` back)."""
    return word.to_bytes(8, "big")[:length].decode("ascii")


def config_values(sender: str = "NERVE", target: str = "VENUE", clordid_prefix: str = "NRV",
                  trade_date: str = "20261120") -> dict[str, int]:
    """The config fields for these strings (defaults: the golden model's)."""
    return {"sender": ascii_word(sender), "sender_len": len(sender),
            "target": ascii_word(target), "target_len": len(target),
            "clordid_prefix": ascii_word(clordid_prefix),
            "clordid_prefix_len": len(clordid_prefix),
            "trade_date": ascii_word(trade_date)}


DEFAULT_CONFIG = config_values()


def registers() -> tuple[Register, ...]:
    """The encoder's registers (the lead maps them under a block prefix)."""
    reset = DEFAULT_CONFIG
    return (
        Register("sender", 64, "rw", "SenderCompID (49): ASCII, first character in bits 63-56, "
                 "characters past sender_len ignored", reset=reset["sender"]),
        Register("sender_len", 4, "rw", "SenderCompID length, 1..8 (else config_error)",
                 reset=reset["sender_len"]),
        Register("target", 64, "rw", "TargetCompID (56): as sender", reset=reset["target"]),
        Register("target_len", 4, "rw", "TargetCompID length, 1..8 (else config_error)",
                 reset=reset["target_len"]),
        Register("clordid_prefix", 64, "rw", "letters/digits before every ClOrdID and "
                 "OrigClOrdID number, first character in bits 63-56",
                 reset=reset["clordid_prefix"]),
        Register("clordid_prefix_len", 4, "rw", "ClOrdID prefix length, 0..8 (else "
                 "config_error)", reset=reset["clordid_prefix_len"]),
        Register("trade_date", 64, "rw", "YYYYMMDD of SendingTime/TransactTime, 8 ASCII digits; "
                 "the host rewrites it at midnight UTC", reset=reset["trade_date"]),
        Register("config_error", 1, "ro", "1: a length or character above is invalid; the "
                 "encoder takes no command until it is fixed"),
        Register("seq_set", NUMBER_BITS, "cmd", "the next MsgSeqNum (1..99,999,999; other "
                 "values ignored); applies after the numbers taken in the same cycle"),
        Register("seq_reserve", 1, "cmd", "any write takes the next MsgSeqNum for a session "
                 "message the host sends itself (after an order taking one in the same cycle)"),
        Register("seq_reserved", NUMBER_BITS, "ro", "the number the last seq_reserve took "
                 "(0: none left, the counter passed 99,999,999)"),
        Register("next_seq", NUMBER_BITS, "ro", "the MsgSeqNum the next order or reserve takes "
                 "(100,000,000: exhausted, no order is sent until seq_set)"),
    )


# --- the message, as pieces -------------------------------------------------------------------
# A piece is a list of tokens: an int (a literal byte) or (field, index). Digit fields are BCD
# digits, most significant first; "date" is the trade_date's characters; "time" the nine digits
# of HHMMSSsss; "lll" BodyLength (patched into beat 1 at the output); "kkk" CheckSum.

def _text(text: str) -> list:
    return list(text.encode())


def _digits(name: str, count: int) -> list:
    return [(name, i) for i in range(count)]


DIGIT_FIELDS = {"lll": 3, "seq": 8, "time": 9, "cl": 8, "orig": 8, "qty": 8, "price": 10,
                "kkk": 3}
_TIME = [*_digits("time", 9)]
_TIME[2:2], _TIME[5:5], _TIME[8:8] = [ord(":")], [ord(":")], [ord(".")]
_TRAILER = _text("10=") + _digits("kkk", 3) + _text(SOH)
_F3_COMMON = (_text(f"{SOH}54=") + [("side", 0)] + _text(f"{SOH}60=") + _digits("date", 8)
              + _text("-") + _TIME + _text(f"{SOH}38=") + _digits("qty", 8) + _text(SOH))
_LIMIT = (_text(f"40=2{SOH}44=") + _digits("price", 10)[:6] + _text(".")
          + _digits("price", 10)[6:] + _text(f"{SOH}59=") + [("tif", 0)] + _text(SOH))
#: Fixed-length pieces. "head" ends where the sender starts; "cfg" (sender "|56=" target "|34=")
#: sits between "head" and "f1"; the prefix comes before "f2" (and "f2b"), the symbol after the
#: last of them.
PIECES = {
    "head": _text(f"8=FIX.4.4{SOH}9=") + _digits("lll", 3) + _text(f"{SOH}35=") + [("kind", 0)]
            + _text(f"{SOH}49="),
    "f1": _digits("seq", 8) + _text(f"{SOH}52=") + _digits("date", 8) + _text("-") + _TIME
          + _text(f"{SOH}11="),
}
#: The first two steps, the same for every message, byte i in bits 8i.. ("8=FIX.4." and
#: "4|9=000|": BodyLength's digits are patched in at the packer).
FIRST_BEAT, SECOND_STEP = (
    int.from_bytes(bytes(t if isinstance(t, int) else ord("0") for t in PIECES["head"][k:k + 8]),
                   "little")
    for k in (0, 8))
_CFG_LITERALS = _text(f"{SOH}56=") + _text(f"{SOH}34=")
KIND_CHAR = {OrderKind.NEW: "D", OrderKind.REPLACE: "G", OrderKind.CANCEL: "F"}


def _kind_pieces(kind: OrderKind) -> dict[str, list]:
    if kind == OrderKind.NEW:
        return {"f2": _digits("cl", 8) + _text(f"{SOH}55="),
                "f3": _F3_COMMON + _LIMIT + _TRAILER}
    return {"f2": _digits("cl", 8) + _text(f"{SOH}41="),
            "f2b": _digits("orig", 8) + _text(f"{SOH}55="),
            "f3": _F3_COMMON + (_LIMIT if kind == OrderKind.REPLACE else []) + _TRAILER}


def _steps(kind: OrderKind) -> list[list[tuple]]:
    """The message as steps of up to three slots: (piece, start, length) of a fixed piece, or
    ("cfg", k) for bytes 8k.. of the packed sender/target, ("prefix",), ("symbol",)."""
    f3 = len(_kind_pieces(kind)["f3"])
    steps = [[("head", 0, 8)], [("head", 8, 8)], [("head", 16, 8)], [("cfg", 0)],
             [("cfg", 1), ("cfg", 2), ("f1", 0, 8)],
             [("f1", 8, 8)], [("f1", 16, 8)], [("f1", 24, 8)],
             [("f1", 32, 5), ("prefix",), ("f2", 0, 8)]]
    if kind == OrderKind.NEW:
        steps.append([("f2", 8, 4), ("symbol",), ("f3", 0, 8)])
    else:
        steps += [[("f2", 8, 4), ("prefix",), ("f2b", 0, 8)],
                  [("f2b", 8, 4), ("symbol",), ("f3", 0, 8)]]
    start = 8
    while f3 - start >= 16:
        steps.append([("f3", start, 8)])
        start += 8
    steps.append([("f3", start, 8), ("f3", start + 8, f3 - start - 8)])   # holds the trailer
    return steps


KINDS = (OrderKind.NEW, OrderKind.REPLACE, OrderKind.CANCEL)
STEPS = {kind: _steps(kind) for kind in KINDS}


def _body(kind: OrderKind) -> list:
    """The tokens the CheckSum covers, without the variable-length strings."""
    pieces = _kind_pieces(kind)
    body = PIECES["head"] + _CFG_LITERALS + PIECES["f1"] + pieces["f2"] + pieces.get("f2b", [])
    return body + pieces["f3"][:-len(_TRAILER)]


def _token_sum(token, kind: OrderKind) -> int:
    if isinstance(token, int):
        return token
    name = token[0]
    if name == "kind":
        return ord(KIND_CHAR[kind])
    if name == "side":
        return ord("1")          # BUY; a SELL adds 1
    if name == "tif":
        return ord("0")          # day; IOC adds 3
    if name == "date":
        return 0                 # the date's characters are summed from the config
    return ord("0")              # a digit: its value is added when it is produced


#: Sum of a message's bytes before "10=" with every digit 0, BUY, day, no strings and no date.
BASE_SUM = {kind: sum(_token_sum(t, kind) for t in _body(kind)) % 256 for kind in KINDS}
#: BodyLength without sender, target, prefix(es) and symbol.
BASE_LENGTH = {kind: len(_body(kind)) - 16 for kind in KINDS}   # from "35=" on

# --- time of day: each 5-bit chunk of the cycle count as (h, m, s, ms, sub-ms) ----------------
TimeFields = data.StructLayout({"sub": 18, "milli": 10, "second": 6, "minute": 6, "hour": 5})
DAY_CYCLES = 86_400_000 * CYCLES_PER_MS
DIRECT_BITS = 17          # cycle bits 0..16 are < CYCLES_PER_MS: straight into "sub"
CHUNK_BITS = 5
_RADIX = {"sub": CYCLES_PER_MS, "milli": 1000, "second": 60, "minute": 60, "hour": 24}
_SUM_BITS = {"sub": 21, "milli": 14, "second": 10, "minute": 10, "hour": 8}
assert 1 << DIRECT_BITS <= CYCLES_PER_MS


def _time_fields(cycles: int) -> dict[str, int]:
    ms, sub = divmod(cycles % DAY_CYCLES, CYCLES_PER_MS)
    seconds, milli = divmod(ms, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return {"sub": sub, "milli": milli, "second": second, "minute": minute, "hour": hour}


def _packed(layout: data.StructLayout, values: dict[str, int]) -> int:
    return sum(values[name] << field.offset for name, field in layout)


_CHUNKS = [(low, min(CHUNK_BITS, 64 - low)) for low in range(DIRECT_BITS, 64, CHUNK_BITS)]
TIME_TABLES = [[_packed(TimeFields, _time_fields(v << low)) for v in range(1 << width)]
               for low, width in _CHUNKS]


# --- small arithmetic helpers ------------------------------------------------------------------

def _chars(word) -> list:
    """The 8 characters of a config/symbol word, first character (most significant) first."""
    return [word[8 * (7 - j): 8 * (8 - j)] for j in range(8)]


def _decimal(m: Module, value, count: int, name: str) -> list:
    """The `count` decimal digits of `value` (< 10**count), most significant first, by
    comparisons against the multiples of each power of ten (small values only)."""
    digits = []
    for power in reversed(range(count)):
        unit = 10 ** power
        digit = Signal(4, name=f"{name}_d{power}")
        m.d.comb += digit.eq(sum(((value >= k * unit) for k in range(1, 10)), Const(0, 4)))
        digits.append(digit)
        if power:
            rest = Signal(unit.bit_length(), name=f"{name}_r{power}")
            # a table of the multiples, not a multiplier (which synthesis maps to a DSP)
            m.d.comb += rest.eq(value - Array(Const(k * unit) for k in range(16))[digit])
            value = rest
    return digits


def _digit_sum(bcd, count: int):
    """Sum of the BCD digits (an 8-bit value: only the CheckSum, mod 256, uses it)."""
    return sum((bcd[4 * i: 4 * i + 4] for i in range(count)), Const(0, 8))[:8]


def _widened(value, width: int):
    return Cat(value, Const(0, width))[:width]


def _by_kind(values: dict, width: int, kind):
    """values[kind] for a D, G or F (a constant table; kind END reads the D entry)."""
    return Array(Const(values[k], width) for k in (*KINDS, KINDS[0]))[kind]


#: A step as the packer takes it: up to 24 bytes, byte i in bits 8i.. (zero past `length`).
Segment = data.StructLayout({"data": 8 * 24, "length": 5, "first": 1, "last": 1})


class OrderEncoder(wiring.Component):
    """Encodes each command as the golden model's FIX message (see the module doc).

    Ports: `i_command` (EncodeCommand; backpressured), `o_egress` (FrameBeat: a message is one
    first..last run of beats, every beat full but the last), `o_event` (OrderEvent: one per
    command, in command order), `time` (cycles, for egress_cycle), `config` (EncoderConfig),
    `config_error`, MsgSeqNum: `seq_set` (stream), `seq_reserve` (strobe), `seq_reserved`,
    `next_seq`.

    Latency: the first beat is on `o_egress` `LATENCY` cycles after the command is accepted
    (idle encoder). Rate: one beat per clock while a message streams (no bubbles when
    `o_egress.ready` is high), and the next message's first beat follows the previous last beat
    on the next cycle when its command was waiting. A message takes ceil(bytes / 8) cycles,
    with s, t, p, y the sender, target, prefix and symbol lengths: D 156 + s + t + p + y bytes,
    20..24 cycles; G 168 + s + t + 2p + y bytes, 22..26 cycles; F 143 + s + t + 2p + y bytes,
    19..23 cycles. The next command is accepted once the previous order's last step is formed
    (at least 16, 18 or 19 cycles after an F, D or G was accepted) and the previous event was
    taken; rejects alone are accepted at most one every 2 cycles.

    Schedule (cycle a: the order is accepted). a: command, config and MsgSeqNum registered,
    BodyLength summed; with the packer idle the first beat goes into the egress register and
    step 2 is formed (else step 1 is formed). a+1..a+4: ClOrdID, OrigClOrdID, OrderQty, Price
    issued to the converter, their BCD ready from a+7..a+10. a..a+4: the time pipeline, digits
    ready from a+5. a+1: BodyLength's digits, patched into beat 1. a+12: CheckSum digits. Step
    k is formed no earlier than cycle a+k-2 and backpressure only delays it, so a field is
    never read before it is ready: the time (step 7, a+5), ClOrdID (step 9, a+7) and
    OrigClOrdID (step 10 of a G or F, a+8) have no slack, the rest more (the latency test
    gives every field new digits, so one read early would show).

    Commands: `order.rejected` 1 -> an event only (seq 0, `egress_cycle` the `time` of the
    accepting cycle), no bytes, no number taken. The same for an order the 8-digit fields
    cannot carry (qty 0 or > 99,999,999, clordid or orig_clordid of a G/F > 99,999,999, kind
    END, a blank symbol): the event's `seq` 0 with `rejected` 0 says "not sent". An order
    takes the next MsgSeqNum when accepted; its event leaves with `egress_cycle` = `time` in
    the cycle its first beat was transferred.

    MsgSeqNum: one counter (reset 1) for orders and the host's own session messages. In one
    cycle, an accepted order takes the counter's value, then `seq_reserve` takes the next one
    (shown on `seq_reserved`), then `seq_set` (1..99,999,999; other values ignored) replaces the
    next number. Past 99,999,999 no order is accepted (a reserve shows 0) until `seq_set`.
    After any change of the counter by the host the next order waits until the converter has
    the new number in BCD (`CONVERTER_STAGES` + 1 cycles).

    Config: in effect one cycle after it is written, read when an order is accepted (a message
    is never a mix of two configs). Invalid (a length out of range, a non-printable or "|"
    character in a comp id, a prefix character not a letter or digit, a date character not a
    digit) raises `config_error`, and then no command is accepted at all: nothing corrupt is
    ever sent, and the lead halts trading on it.
    Reset: counter 1, idle, `config` at the model's defaults (NERVE, VENUE, NRV, 20261120).
    """

    i_command: In(stream.Signature(EncodeCommand))
    o_egress: Out(stream.Signature(FrameBeat))
    o_event: Out(stream.Signature(OrderEvent))
    time: In(64)
    config: In(EncoderConfig, init=DEFAULT_CONFIG)
    config_error: Out(1)
    seq_set: In(stream.Signature(NUMBER_BITS, always_ready=True))
    seq_reserve: In(1)
    seq_reserved: Out(NUMBER_BITS)
    next_seq: Out(NUMBER_BITS)

    def elaborate(self, platform):
        m = Module()
        cmd = self.i_command.p
        order = cmd.order
        out, event = self.o_egress, self.o_event

        # --- state shared by the parts below ---------------------------------------------
        step = Signal(5)               # next step of the current message to form (0: none)
        awaiting_first = Signal()      # an accepted order's first beat has not left yet
        counter = Signal(NUMBER_BITS, init=1)
        seq_bcd = Signal(32)           # BCD of `seq_bcd_of`, from the converter
        seq_bcd_of = Signal(NUMBER_BITS)
        exhausted = counter > MAX_NUMBER
        seq_ready = seq_bcd_of == counter   # the counter's BCD is up to date

        # --- the config in effect: the registers a cycle late, checked in that same cycle ----
        # (the check's compares and OR tree used to sit in front of the acceptance and the
        # MsgSeqNum counter: the encoder's critical path). A message still never mixes two
        # configs, and none is taken while the config it would use is invalid.
        cfg = Signal(EncoderConfig, init=DEFAULT_CONFIG)
        config_error = Signal()
        m.d.sync += [cfg.eq(self.config), config_error.eq(self._config_invalid(self.config))]

        # --- acceptance ----------------------------------------------------------------------
        m.d.comb += self.config_error.eq(config_error)
        symbol_chars = _chars(cmd.symbol)
        length_in = Signal(4)          # the symbol without its trailing spaces
        for j, char in enumerate(symbol_chars):
            with m.If(char != ord(" ")):
                m.d.comb += length_in.eq(j + 1)
        kind_in = Value.cast(order.kind)
        encodable = (~order.rejected & (kind_in != OrderKind.END)
                     & (order.qty != 0) & (order.qty <= MAX_NUMBER)
                     & (order.clordid <= MAX_NUMBER)
                     & ((kind_in == OrderKind.NEW) | (order.orig_clordid <= MAX_NUMBER))
                     & (length_in != 0))
        m.d.comb += self.i_command.ready.eq(
            ~self.config_error & ~event.valid & ~awaiting_first & (step == 0)
            & seq_ready & ~exhausted)
        accepted = self.i_command.valid & self.i_command.ready
        start = Signal()               # an order to put on the wire, accepted this cycle
        m.d.comb += start.eq(accepted & encodable)
        # late[k]: the order was accepted k cycles ago (times the pipelines below)
        late = [start] + [Signal(name=f"late{k}") for k in range(1, 8)]
        for k in range(1, len(late)):
            m.d.sync += late[k].eq(late[k - 1])

        cmd_r = Signal(EncodeCommand)
        kind = Signal(OrderKind)
        symbol_len = Signal(4)
        seq_taken = Signal(NUMBER_BITS)
        seq_digits = Signal(32)
        with m.If(start):
            m.d.sync += [cmd_r.eq(cmd), kind.eq(kind_in), symbol_len.eq(length_in),
                         seq_taken.eq(counter), seq_digits.eq(seq_bcd)]

        # --- MsgSeqNum -----------------------------------------------------------------------
        # The reserve takes the number after the order's: there is one while counter + start
        # <= MAX, compared on the counter alone (beside `start`, not after an adder), and the
        # counter moves on by 0, 1 or 2 in one add.
        after_order = counter + start
        reserve_ok = Mux(start, counter < MAX_NUMBER, counter <= MAX_NUMBER)
        with m.If(self.seq_reserve):
            m.d.sync += self.seq_reserved.eq(Mux(reserve_ok, after_order, 0))
        next_counter = counter + (start + (self.seq_reserve & reserve_ok))
        written = self.seq_set.p
        with m.If(self.seq_set.valid & (written >= 1) & (written <= MAX_NUMBER)):
            m.d.sync += counter.eq(written)
        with m.Else():
            m.d.sync += counter.eq(next_counter)
        m.d.comb += self.next_seq.eq(counter)

        # --- config, snapshotted per order ---------------------------------------------------
        cfg_r = self._config_snapshot(m, cfg, start)

        # --- binary -> BCD: ClOrdID, OrigClOrdID, OrderQty, Price, and the counter ------------
        fields = {name: Signal(4 * DIGIT_FIELDS[name], name=f"{name}_bcd")
                  for name in ("cl", "orig", "qty", "price")}
        conv_sum = self._converter(m, cmd_r, kind, start, counter, fields, seq_bcd, seq_bcd_of)

        # --- time of day -------------------------------------------------------------------
        time_bcd = Signal(4 * DIGIT_FIELDS["time"])
        self._time_of_day(m, order.ingress_cycle, late[TIME_STAGES - 1], time_bcd)

        # --- BodyLength and CheckSum -------------------------------------------------------
        length = Signal(8)
        with m.If(start):
            prefixes = Mux(kind_in == OrderKind.NEW, cfg.clordid_prefix_len,
                           cfg.clordid_prefix_len << 1)
            m.d.sync += length.eq(_by_kind(BASE_LENGTH, 8, kind_in) + cfg.sender_len
                                  + cfg.target_len + prefixes + length_in)
        # BodyLength's digits: straight off `length` for beat 1, which an idle packer forms
        # the cycle after the command; registered for the CheckSum.
        lll_now = Signal(12)
        lll = Signal(12)
        m.d.comb += lll_now.eq(Cat(*reversed(_decimal(m, length, 3, "lll"))))
        m.d.sync += lll.eq(lll_now)
        checksum = Signal(8)
        symbol_bytes = [Mux(j < symbol_len, c, 0) for j, c in enumerate(_chars(cmd_r.symbol))]
        prefix_copies = Mux(kind == OrderKind.NEW, cfg_r["prefix_sum"], cfg_r["prefix_sum"] << 1)
        terms = [
            Mux(late[1], sum(symbol_bytes, Const(0, 8)) + cfg_r["strings_sum"] + prefix_copies,
                0),
            Mux(late[2], _digit_sum(lll, 3), 0),
            Mux(late[TIME_STAGES], _digit_sum(time_bcd, 9) << 1, 0),
            conv_sum,
        ]
        with m.If(start):
            limit = kind_in != OrderKind.CANCEL
            m.d.sync += checksum.eq(
                _by_kind(BASE_SUM, 8, kind_in) + (order.side == Side.SELL)
                + Mux(limit & order.ioc, 3, 0) + _digit_sum(seq_bcd, 8))
        with m.Else():
            m.d.sync += checksum.eq(checksum + sum(terms, Const(0, 8)))
        kkk = Signal(12)
        m.d.sync += kkk.eq(Cat(*reversed(_decimal(m, checksum, 3, "kkk"))))

        # --- steps -> segment register -------------------------------------------------------
        sources = {"seq": seq_digits, "time": time_bcd, "kkk": kkk, "lll": Const(0, 12),
                   **fields}
        seg = Signal(Segment)
        seg_valid = Signal()
        take = Signal()                # the packer takes `seg` this cycle
        seg_free = ~seg_valid | take
        formed = self._step(m, kind, step, cmd_r, symbol_len, cfg_r, sources)
        # The first two steps are the same for every message (BodyLength is patched in at the
        # packer). An idle packer puts the first straight on the egress (`direct`) while the
        # command is taken and the second is formed at once; a busy one gets the first as a
        # step. Either way step k is formed no earlier than cycle a+k-2.
        packer_idle = Signal()
        direct = Signal()
        m.d.comb += direct.eq(start & packer_idle)
        with m.If(direct):
            m.d.sync += [seg.data.eq(SECOND_STEP),
                         seg.length.eq(8), seg.first.eq(0), seg.last.eq(0), seg_valid.eq(1),
                         step.eq(3)]
        with m.Elif(start & seg_free):
            m.d.sync += [seg.data.eq(FIRST_BEAT), seg.length.eq(8), seg.first.eq(1),
                         seg.last.eq(0), seg_valid.eq(1), step.eq(2)]
        with m.Elif(start):
            m.d.sync += step.eq(1)
        with m.Elif((step != 0) & seg_free):
            last = _by_kind({k: len(steps) for k, steps in STEPS.items()}, 5, kind) == step
            m.d.sync += [seg.eq(formed), seg.first.eq(step == 1), seg.last.eq(last),
                         seg_valid.eq(1), step.eq(Mux(last, 0, step + 1))]
        with m.Elif(take):
            m.d.sync += seg_valid.eq(0)

        # --- byte packer -> egress -----------------------------------------------------------
        self._packer(m, seg, seg_valid, take, lll_now, packer_idle, direct)

        # --- events --------------------------------------------------------------------------
        with m.If(event.valid & event.ready):
            m.d.sync += event.valid.eq(0)
        with m.If(start):
            m.d.sync += awaiting_first.eq(1)
        with m.If(accepted & ~encodable):
            m.d.sync += [event.valid.eq(1), event.p.order.eq(order), event.p.symbol.eq(cmd.symbol),
                         event.p.seq.eq(0), event.p.egress_cycle.eq(self.time)]
        with m.If(out.valid & out.ready & out.p.first):
            m.d.sync += [awaiting_first.eq(0), event.valid.eq(1),
                         event.p.order.eq(cmd_r.order), event.p.symbol.eq(cmd_r.symbol),
                         event.p.seq.eq(seq_taken), event.p.egress_cycle.eq(self.time)]
        return m

    # --- parts -------------------------------------------------------------------------------

    @staticmethod
    def _config_invalid(cfg):
        def printable(c):
            return (c >= 0x20) & (c <= 0x7E) & (c != ord("|"))

        def alnum(c):
            return (((c >= ord("0")) & (c <= ord("9"))) | ((c >= ord("A")) & (c <= ord("Z")))
                    | ((c >= ord("a")) & (c <= ord("z"))))

        def bad_chars(word, length, good):
            return Cat(*((j < length) & ~good(c) for j, c in enumerate(_chars(word)))).any()

        digit = [(c >= ord("0")) & (c <= ord("9")) for c in _chars(cfg.trade_date)]
        return ((cfg.sender_len == 0) | (cfg.sender_len > 8)
                | (cfg.target_len == 0) | (cfg.target_len > 8) | (cfg.clordid_prefix_len > 8)
                | bad_chars(cfg.sender, cfg.sender_len, printable)
                | bad_chars(cfg.target, cfg.target_len, printable)
                | bad_chars(cfg.clordid_prefix, cfg.clordid_prefix_len, alnum)
                | ~Cat(*digit).all())

    @staticmethod
    def _config_snapshot(m, cfg, start) -> dict:
        """The config as the order's steps use it, registered when the order is taken:
        sender "|56=" target "|34=" packed (`cfg`, 10..24 bytes, byte i in bits 8i..), the
        prefix and date as bytes, and the strings' character sums for the CheckSum."""
        def masked(word, length):
            return Cat(*(Mux(j < length, c, 0) for j, c in enumerate(_chars(word))))

        s, t, p = cfg.sender_len, cfg.target_len, cfg.clordid_prefix_len
        lit56 = int.from_bytes(f"{SOH}56=".encode(), "little")
        lit34 = int.from_bytes(f"{SOH}34=".encode(), "little")
        # Lengths are 1..8 whenever an order is taken (else config_error): shift by length - 1.
        s1, t1 = (s - 1)[:3], (t - 1)[:3]
        packed = (masked(cfg.sender, s).as_unsigned()
                  | (Const(lit56 << 8, 40) << (s1 * 8))
                  | (masked(cfg.target, t).as_unsigned() << ((s1 + 5) * 8))
                  | (Const(lit34 << 48, 80) << ((s1 + t1) * 8)))[:8 * 24]
        date = Cat(*_chars(cfg.trade_date))

        def char_sum(word, length):
            return sum((Mux(j < length, c, 0) for j, c in enumerate(_chars(word))),
                       Const(0, 8))[:8]

        regs = {"cfg": Signal(8 * 24), "cfg1_len": Signal(4), "cfg2_len": Signal(4),
                "prefix": Signal(64), "prefix_len": Signal(4), "date": Signal(64),
                "strings_sum": Signal(8), "prefix_sum": Signal(8)}
        both = s + t
        with m.If(start):
            m.d.sync += [
                regs["cfg"].eq(packed),
                regs["cfg1_len"].eq(Mux(both > 8, 8, both)),
                regs["cfg2_len"].eq(Mux(both > 8, both - 8, 0)),
                regs["prefix"].eq(masked(cfg.clordid_prefix, p)), regs["prefix_len"].eq(p),
                regs["date"].eq(date),
                regs["strings_sum"].eq(char_sum(cfg.sender, s) + char_sum(cfg.target, t)
                                       + (char_sum(cfg.trade_date, 8) << 1)),
                regs["prefix_sum"].eq(char_sum(cfg.clordid_prefix, p)),
            ]
        return regs

    @staticmethod
    def _converter(m, cmd_r, kind, start, counter, fields, seq_bcd, seq_bcd_of):
        """Shared double-dabble pipeline. An order issues cl, orig, qty, price in the four
        cycles after it is taken (tags 1..4); every other cycle converts the counter (tag 0).
        Returns the CheckSum term: the digit sum of the order field finished last cycle."""
        bits, digits = 32, 10
        issue = Signal(3)
        with m.If(start):
            m.d.sync += issue.eq(1)
        with m.Elif(issue != 0):
            m.d.sync += issue.eq(Mux(issue == 4, 0, issue + 1))
        order = cmd_r.order
        operand = Array([counter, order.clordid, order.orig_clordid, order.qty,
                         order.price, counter, counter, counter])[issue]

        # Stage boundaries: after these many input bits (the last stage writes the fields).
        per_stage = -(-bits // CONVERTER_STAGES)
        bounds = [min(bits, per_stage * (k + 1)) for k in range(CONVERTER_STAGES)]
        bcd = Const(0, 4 * digits)
        rest = _widened(operand, bits)
        tag, value = issue, counter
        done = 0
        for stage, bound in enumerate(bounds):
            for i in range(done, bound):
                bit = rest[bits - 1 - i]
                adjusted = []
                for d in range(digits):
                    nibble = bcd[4 * d: 4 * d + 4]
                    # after i bits the value is below 2**i: digit d cannot reach 5 before
                    adjusted.append(Mux(nibble >= 5, nibble + 3, nibble)[:4]
                                    if (1 << i) - 1 >= 5 * 10 ** d else nibble)
                shifted = Signal(4 * digits, name=f"dd_bit{i}")   # a net: keeps the DAG flat
                m.d.comb += shifted.eq(Cat(bit, Cat(*adjusted)[:4 * digits - 1]))
                bcd = shifted
            done = bound
            if stage == CONVERTER_STAGES - 1:
                break
            bcd_r = Signal(4 * digits, name=f"dd{stage}_bcd")
            rest_r = Signal(bits, name=f"dd{stage}_rest")
            tag_r = Signal(3, name=f"dd{stage}_tag")
            value_r = Signal(NUMBER_BITS, name=f"dd{stage}_value")
            m.d.sync += [bcd_r.eq(bcd), rest_r.eq(rest), tag_r.eq(tag), value_r.eq(value)]
            bcd, rest, tag, value = bcd_r, rest_r, tag_r, value_r

        finished = Signal(4 * digits)
        finished_tag = Signal(3)
        m.d.sync += [finished.eq(bcd), finished_tag.eq(tag)]
        with m.Switch(tag):
            with m.Case(0, 5, 6, 7):
                m.d.sync += [seq_bcd.eq(bcd[:32]), seq_bcd_of.eq(value)]
            for code, name in enumerate(("cl", "orig", "qty", "price"), 1):
                with m.Case(code):
                    m.d.sync += fields[name].eq(bcd[:len(fields[name])])
        counts = ((finished_tag == 1) | (finished_tag == 3)
                  | ((finished_tag == 2) & (kind != OrderKind.NEW))
                  | ((finished_tag == 4) & (kind != OrderKind.CANCEL)))
        return Mux(counts, _digit_sum(finished, digits), 0)

    @staticmethod
    def _time_of_day(m, cycles, load, time_bcd):
        """cycles -> HHMMSSsss (BCD, 9 digits) in TIME_STAGES cycles; `load` marks the cycle
        the last stage holds the accepted order's time (the digits are kept until the next)."""
        names = [name for name, _ in TimeFields]
        # T0: each chunk's weight from its table, plus the direct low bits; two adder levels.
        operands = {name: [] for name in names}
        for (low, width), table in zip(_CHUNKS, TIME_TABLES, strict=True):
            entry = data.View(TimeFields, Array(Const(v, TimeFields.size) for v in table)
                              [cycles[low:low + width]])
            for name in names:
                operands[name].append(getattr(entry, name))
        operands["sub"].append(cycles[:DIRECT_BITS])

        def add_level(values, width):
            return [(values[i] + values[i + 1])[:width] if i + 1 < len(values) else values[i]
                    for i in range(0, len(values), 2)]

        def register(values, width, stage):
            regs = [Signal(width, name=f"t{stage}_{i}") for i, _ in enumerate(values)]
            m.d.sync += [r.eq(v) for r, v in zip(regs, values, strict=True)]
            return regs

        sums = {}
        for name in names:
            width = _SUM_BITS[name]
            # up to 11 operands: two adder levels a stage (11 -> 6 -> 3, then 3 -> 2 -> 1)
            values = register(add_level(add_level(operands[name], width), width), width,
                              f"0{name}")                                            # T0
            while len(values) > 1:
                values = add_level(values, width)
            sums[name] = register(values, width, f"1{name}")[0]                      # T1
        # T2: quotient (carry into the next field) and remainder of each field's sum.
        quotient, remainder = {}, {}
        for name in names:
            radix, total = _RADIX[name], sums[name]
            most = ((len(operands[name]) * (radix - 1)) // radix)
            q, r = Const(0, 4), total
            for k in range(1, most + 1):
                q = Mux(total >= k * radix, k, q)
                r = Mux(total >= k * radix, total - k * radix, r)
            quotient[name] = Signal(4, name=f"t2_q_{name}")
            remainder[name] = Signal((radix - 1).bit_length(), name=f"t2_r_{name}")
            m.d.sync += [quotient[name].eq(q), remainder[name].eq(r)]
        # T3: carries, milliseconds up to hours; a carry out of the hours (a day) is dropped.
        carry = quotient["sub"]
        final = {}
        for name in ("milli", "second", "minute", "hour"):
            radix = _RADIX[name]
            value = remainder[name] + carry
            over = value >= radix
            final[name] = Signal((radix - 1).bit_length(), name=f"t3_{name}")
            m.d.sync += final[name].eq(Mux(over, value - radix, value))
            carry = quotient[name] + over
        # T4: decimal digits.
        digits = (_decimal(m, final["hour"], 2, "hour") + _decimal(m, final["minute"], 2, "minute")
                  + _decimal(m, final["second"], 2, "second")
                  + _decimal(m, final["milli"], 3, "milli"))
        with m.If(load):
            m.d.sync += time_bcd.eq(Cat(*reversed(digits)))

    @staticmethod
    def _step(m, kind, step, cmd_r, symbol_len, cfg_r, sources):
        """The segment of step `step` of a `kind` message (combinational)."""
        order = cmd_r.order

        def token_byte(token):
            return _widened(token_value(token), 8)

        def token_value(token):
            if isinstance(token, int):
                return Const(token, 8)
            name, i = token
            if name == "kind":
                return Mux(kind == OrderKind.REPLACE, ord("G"),
                           Mux(kind == OrderKind.CANCEL, ord("F"), ord("D")))
            if name == "side":
                return Mux(order.side == Side.SELL, ord("2"), ord("1"))
            if name == "tif":
                return Mux(order.ioc, ord("3"), ord("0"))
            if name == "date":
                return cfg_r["date"][8 * i: 8 * i + 8]
            field, count = sources[name], DIGIT_FIELDS[name]
            nibble = count - 1 - i          # digit 0 (most significant) is the top nibble
            return Cat(field[4 * nibble: 4 * nibble + 4], Const(3, 4))

        symbol = Cat(*(Mux(j < symbol_len, c, 0) for j, c in enumerate(_chars(cmd_r.symbol))))
        cfg = cfg_r["cfg"]
        slots = [Signal(64, name=f"slot{k}") for k in range(3)]
        lengths = [Signal(4, name=f"slot{k}_len") for k in range(3)]
        with m.Switch(kind):
            for k in KINDS:
                pieces = PIECES | _kind_pieces(k)
                with m.Case(k), m.Switch(step):
                    for index, spec in enumerate(STEPS[k], 1):
                        with m.Case(index):
                            for slot, length, piece in zip(slots, lengths, spec, strict=False):
                                if piece[0] == "cfg":
                                    part = piece[1]
                                    size = (8, cfg_r["cfg1_len"], cfg_r["cfg2_len"])[part]
                                    value = cfg[64 * part: 64 * part + 64]
                                elif piece[0] == "prefix":
                                    size, value = cfg_r["prefix_len"], cfg_r["prefix"]
                                elif piece[0] == "symbol":
                                    size, value = symbol_len, symbol
                                else:
                                    name, begin, size = piece
                                    tokens = pieces[name][begin: begin + size]
                                    value = Cat(*(token_byte(t) for t in tokens))
                                m.d.comb += [slot.eq(value), length.eq(size)]
        formed = Signal(Segment)
        first_two = lengths[0] + lengths[1]
        m.d.comb += [
            formed.data.eq(slots[0] | (slots[1] << (lengths[0] * 8))
                           | (slots[2] << (first_two * 8))),
            formed.length.eq(first_two + lengths[2]),
        ]
        return formed

    def _packer(self, m, seg, seg_valid, take, lll, idle, direct):
        """Appends segments to a byte window and emits 8 bytes per cycle. `idle`: nothing of
        a message is left in it and the egress register is free; `direct` (only when idle):
        the next message's first beat goes into the egress register now."""
        out = self.o_egress
        advance = ~out.valid | out.ready
        window = Signal(8 * 23)        # bytes not yet emitted (at most 7 + 24 - 8)
        fill = Signal(5)
        tail = Signal()                # the message's last segment is in the window
        beat = Signal(5)               # beats emitted of the current message
        m.d.comb += take.eq(advance & seg_valid & (fill < 8) & (~seg.first | (fill == 0)))
        combined = Signal(8 * 31)
        total = Signal(6)
        m.d.comb += [
            # taken only with fill < 8: a 3-bit shift amount keeps the shifter to 3 levels
            combined.eq(Mux(take, window | (seg.data << (fill[:3] * 8)), window)),
            total.eq(fill + Mux(take, seg.length, 0)),
        ]
        ends = tail | (take & seg.last)
        full = total >= 8
        last = ends & (total <= 8)
        emit = full | (ends & (total != 0))
        data_out = Signal(64)
        m.d.comb += data_out.eq(combined[:64])
        with m.If(beat == 1):           # BodyLength: bytes 12..14, lanes 4..6 of beat 1
            for i in range(3):
                m.d.comb += data_out[8 * (4 + i): 8 * (5 + i)].eq(
                    Cat(lll[4 * (2 - i): 4 * (3 - i)], Const(3, 4)))
        keep = Array(Const((1 << n) - 1, 8) for n in range(9))[Mux(full, 8, total[:4])]
        with m.If(advance):
            m.d.sync += [out.valid.eq(emit), out.p.data.eq(data_out), out.p.keep.eq(keep),
                         out.p.first.eq(beat == 0), out.p.last.eq(last)]
            with m.If(emit):
                m.d.sync += [window.eq(combined[64:]), fill.eq(Mux(full, total - 8, 0)),
                             beat.eq(Mux(last, 0, beat + 1)), tail.eq(ends & ~last)]
            with m.Else():
                m.d.sync += [window.eq(combined), fill.eq(total), tail.eq(ends)]
        m.d.comb += idle.eq(advance & ~seg_valid & (fill == 0) & ~tail)
        with m.If(direct):
            m.d.sync += [out.valid.eq(1), out.p.data.eq(FIRST_BEAT), out.p.keep.eq(0xFF),
                         out.p.first.eq(1), out.p.last.eq(0), beat.eq(1)]

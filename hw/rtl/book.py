"""Book builder: normalised book events in, per-symbol best bid and offer (BBO) updates out.

Data flow: Ingress (ItchDecoder) -> BookBuilder -> strategy and risk gate. The semantics are the
golden model's (`sw/model/book.py`, docs/golden-model.md) within the capacity below; outside it a
symbol is marked unreliable, loudly, and never silently wrong.

Structures, each sized by a build parameter (docs/book.md has the block RAM costs):
- Symbol slots: a locate -> slot table in block RAM. The host subscribes a locate by writing it
  to `subscribe` (it gets the next free slot; refused and counted in `subscribe_refused` when
  the slots are used up or the locate is beyond the table; a locate already subscribed is left
  as it is). While `learn` is 1 (its reset value) a locate also gets the next free slot the
  first time an R, an H or an add names it, in feed order; with `learn` at 0 only the host's
  list is built. Events of locates with no slot are ignored and counted (`unsubscribed`).
- Order table, keyed by order ref: two tables of `order_sets` sets of `WAYS` ways in block RAM,
  each table indexed by its own hash of the ref (two-choice hashing: an add goes to the emptier
  of its two sets, which keeps sets from filling long before the table does). An entry holds the
  ref's bits above the set index (the rest follow from the set), symbol slot, side, price level
  and remaining shares. An add that finds both its sets full is dropped: the symbol is marked
  unreliable and the drop counted (`order_overflow`).
- Price levels: per slot, a window of `levels` price buckets of 2**`bucket_shift` ITCH units
  (64 units by default: prices on the $0.01 grid, 100 units apart, never share a bucket), placed
  by the slot's first add so that its price falls in the middle. Each bucket holds its price's
  offset in the bucket and the aggregate shares (block RAM, two copies: one for the update, one
  to read the best level); an occupancy bitmap per slot and side finds the best level with a
  priority encoder, so the next best is known at once when the best empties. A price outside
  the window, or a second price in an occupied bucket, marks the symbol unreliable (counted).
- Per slot: trading state (ITCH H), name (ITCH R), the last published BBO, the unreliable flag
  (cleared by the host, `book_unreliable`, write 1 to clear). LUT RAM, with a reset valid bit
  per slot in flip-flops.
- The slot map, for the host: write a slot to `map_slot`; `map_locate`, `map_named` and
  `map_stock` then read the locate that slot holds and the name the last R of that locate gave
  it (an R is stored only once its locate has a slot). The host binds symbols by this map,
  never by the order it subscribed them (docs/book.md, "Symbol slots").

Pipeline (one micro-op per clock; read-modify-write hazards are forwarded, never stalled). Each
stage is kept to about a block-RAM read or a carry chain and a few LUT levels, for Fmax:
  issue   an event, or the queue's head: a U is two micro-ops (remove the old ref, then add the
          new one with the old order's slot and side), so it takes two issue slots
  S1      order ways and locate entry read; tags matched; slot found (learned)
  S2      order decided (hit, free way, cut, price window); order table written
  S3      level read; aggregate updated; level written
  S4      the level's occupancy bit written in the slot's bitmap
  S5      best bucket, first half: the best occupied bit of each group of the row
  S6      best bucket, second half: the best group; the best level read (S5 and S6 are the
          BestLevelFinder, hw/rtl/best_level.py)
  S7      the best level's price; the slot's last published BBO read
  S8      BBO compared with the slot's last published one, which it replaces
  out     `o_update`, registered
Latency: `LATENCY` cycles from an event on `i_event` (queue empty) to its update on `o_update`.
Rate: one event per clock, no backpressure (`i_event.ready` is tied to 1), except that a U takes
two issue slots: at line rate that is free (messages are at least 13 bytes on the wire, so at
most 8 events arrive in 13 cycles, and the queue drains in the gaps); a queue overflow (only
possible when a source exceeds the line rate) drops the event, counts it and marks every slot
unreliable.
Outputs: an update when a message changes a slot's BBO (`bbo_changed`) and for every H
(`state_changed`), in message order, with the message's index and ingress cycle.
Reset: no slots, nothing unreliable, no BBO published, and every RAM (locate table, order
table, levels, bitmaps) written empty by a sweep of one address per cycle over the deepest of
them (`clear_cycles`: 16,384 cycles, 105 us at 156.25 MHz, in the default build), so a reset in
the middle of a session leaves no stale locate, order or level behind. While `clearing` is 1,
events are dropped and counted (`clearing_drop`) and host subscriptions are refused (counted in
`subscribe_refused`); the host waits for `book_clearing` to read 0 before it subscribes and
releases trading.
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.rtl.best_level import BestLevelFinder
from hw.rtl.book_issue import IssueQueue, MicroOp
from hw.rtl.csr import COUNTER_BITS, Register, count_events
from hw.rtl.lutram import slot_table
from hw.rtl.records import BookEventKind, BookUpdate, FeedEvent

DEFAULT_SLOTS = 32
#: Locates below 2**DEFAULT_LOCATE_BITS can have a slot (the locate table's depth).
DEFAULT_LOCATE_BITS = 14
TABLES = 2
WAYS = 4
#: Cycles from an event on `i_event` to its update on `o_update` (issue, S1-S8, output).
LATENCY = 9
STATE_TRADING = ord("T")

COUNTERS = ("events", "bbo_updates", "state_updates", "duplicate_ref", "empty_add",
            "unknown_ref", "unsubscribed", "order_overflow", "price_out_of_window",
            "level_conflict", "level_overflow", "queue_overflow", "subscribe_refused",
            "clearing_drop")
BookCounters = data.StructLayout({name: COUNTER_BITS for name in COUNTERS})

_COUNTER_DOCS = {
    "events": "book events taken in",
    "bbo_updates": "BBO updates sent (a message changed a symbol's best bid or offer)",
    "state_updates": "trading state updates sent (ITCH H of a subscribed symbol)",
    "duplicate_ref": "adds (A/F, or U's new order) whose ref is already live, ignored",
    "empty_add": "adds with zero shares or zero price, ignored",
    "unknown_ref": "E/C/X/D/U naming no live order, ignored",
    "unsubscribed": "events of a locate with no slot (not subscribed while learn is 0, slots "
                    "full, or locate beyond the table)",
    "order_overflow": "adds dropped because both their order sets were full (unreliable)",
    "price_out_of_window": "adds outside their symbol's price window, dropped (unreliable)",
    "level_conflict": "adds whose price bucket holds another price (unreliable)",
    "level_overflow": "adds that would take a level's aggregate past 2**32-1 (unreliable)",
    "queue_overflow": "events dropped by the issue queue (above line rate; all unreliable)",
    "subscribe_refused": "host subscriptions refused: no free slot, locate beyond the table, "
                         "written again while the previous one waited (its compare, or a "
                         "learning cycle), or written while the book cleared its RAMs",
    "clearing_drop": "events dropped while the book cleared its RAMs after a reset",
}


def registers(slots: int) -> tuple[Register, ...]:
    """The book's registers (served by hw.rtl.csr.CsrBank; addresses come from the map)."""
    return (
        Register("unreliable", slots, "w1c", "per slot (bit n = slot n): the book left its "
                 "capacity and may be wrong, trading on it is blocked; write 1 to clear"),
        Register("slots", 8, "ro", "symbol slots this build has (its capacity)"),
        Register("slots_used", 8, "ro", "symbol slots taken so far (subscribed or learned)"),
        Register("clearing", 1, "ro", "1 while the book writes its RAMs empty after a reset "
                 "(events dropped, subscriptions refused); wait for 0 before subscribing"),
        Register("learn", 1, "rw", "1: a locate gets the next free slot when the feed first "
                 "names it (R, H or add); 0: only subscribed locates get slots", reset=1),
        Register("subscribe", 16, "cmd", "write a stock locate to give it the next free slot "
                 "(see subscribe_refused); reads as 0"),
        Register("map_slot", 8, "rw", "the slot that map_locate, map_named and map_stock "
                 "describe (read them at least 2 cycles after writing it)"),
        Register("map_locate", 16, "ro", "the stock locate the selected slot holds (0: the "
                 "slot is free)"),
        Register("map_named", 1, "ro", "1 when an R has named the selected slot's locate "
                 "since it took the slot"),
        Register("map_stock", 64, "ro", "the selected slot's name: the stock field of the "
                 "last R of its locate (8 ASCII bytes, space padded, first byte most "
                 "significant); 0 until map_named"),
        *(Register(name, COUNTER_BITS, "ro", doc) for name, doc in _COUNTER_DOCS.items()),
    )


def set_indexes(ref: int, set_bits: int) -> tuple[int, int]:
    """The two order-table sets of `ref` (the hardware's hashes, for testbenches and docs).

    Table 0: the low bits XOR the high bits folded in `set_bits` chunks. Table 1: the low bits
    reversed XOR the chunks each rotated by its position, so refs that share a set in one table
    rarely share one in the other. Either way the low bits follow from the set and the high
    bits, so an entry only stores the high bits.
    """
    mask = (1 << set_bits) - 1
    low, high = ref & mask, ref >> set_bits
    reversed_low = int(format(low, f"0{set_bits}b")[::-1], 2)
    index0, index1 = low, reversed_low
    for j, shift in enumerate(range(0, 64 - set_bits, set_bits)):
        chunk = (high >> shift) & mask
        rotate = (j + 1) % set_bits
        index0 ^= chunk
        index1 ^= ((chunk << rotate) | (chunk >> (set_bits - rotate))) & mask
    return index0, index1


def _set_index(ref: Value, set_bits: int, table: int) -> Value:
    """`set_indexes` in hardware: an XOR tree per bit."""
    low, high = ref[:set_bits], ref[set_bits:]
    index = low if table == 0 else Cat(*reversed([low[i] for i in range(set_bits)]))
    for j, shift in enumerate(range(0, len(high), set_bits)):
        chunk = high[shift:shift + set_bits]
        chunk = Cat(chunk, Const(0, set_bits - len(chunk)))
        index = index ^ (chunk if table == 0 else chunk.rotate_left((j + 1) % set_bits))
    return index


class BookBuilder(wiring.Component):
    """L3 order table -> per-slot price levels -> BBO updates (see the module doc).

    Parameters: `slots` symbols (at most 32: one unreliable bit each in one register word),
    `order_sets` sets per order table (a power of two; capacity 2 x 4 x order_sets orders),
    `levels` price buckets per side (a power of two), `bucket_shift` (bucket = 2**shift ITCH
    units), `locate_bits` (locates below 2**locate_bits can be subscribed).
    """

    def __init__(self, *, slots: int = DEFAULT_SLOTS, order_sets: int = 1024, levels: int = 256,
                 bucket_shift: int = 6, locate_bits: int = DEFAULT_LOCATE_BITS):
        for name, value in (("order_sets", order_sets), ("levels", levels)):
            if value < 2 or value & (value - 1):
                raise TypeError(f"{name} must be a power of two of at least 2, not {value!r}")
        if not 1 <= slots <= 32:
            raise TypeError(f"slots must be 1..32, not {slots!r}")
        if not 0 <= bucket_shift <= 16:
            raise TypeError(f"bucket_shift must be 0..16, not {bucket_shift!r}")
        if not 1 <= locate_bits <= 16:
            raise TypeError(f"locate_bits must be 1..16, not {locate_bits!r}")
        self.slots = slots
        self.order_sets = order_sets
        self.levels = levels
        self.bucket_shift = bucket_shift
        self.locate_bits = locate_bits
        self.set_bits = order_sets.bit_length() - 1
        self.level_bits = levels.bit_length() - 1
        self.slot_bits = max(1, (slots - 1).bit_length())
        #: Cycles of the reset sweep: the deepest RAM (locates, or both sides' levels).
        self.clear_cycles = max(order_sets, 1 << locate_bits, slots * 2 * levels)
        super().__init__({
            "i_event": In(stream.Signature(FeedEvent, always_ready=True)),
            "o_update": Out(stream.Signature(BookUpdate, always_ready=True)),
            "clear_unreliable": In(slots),
            "learn": In(1, init=1),
            "subscribe": In(stream.Signature(16, always_ready=True)),
            "map_slot": In(8),
            "map_locate": Out(16),
            "map_named": Out(1),
            "map_stock": Out(64),
            "unreliable": Out(slots),
            "slots_used": Out(8),
            "clearing": Out(1),
            "counters": Out(BookCounters),
        })

    def elaborate(self, platform):
        m = Module()
        slots, levels, shift = self.slots, self.levels, self.bucket_shift
        set_bits, level_bits, slot_bits = self.set_bits, self.level_bits, self.slot_bits
        order_entry = data.StructLayout({
            "valid": 1, "tag": 64 - set_bits, "slot": slot_bits, "side": 1,
            "bucket": level_bits, "shares": 32})
        level_entry = data.StructLayout({"offset": max(shift, 1), "shares": 32})
        locate_entry = data.StructLayout({"valid": 1, "slot": slot_bits})
        bbo_layout = data.StructLayout({"bid_price": 32, "bid_shares": 32,
                                        "ask_price": 32, "ask_shares": 32})

        # --- storage --------------------------------------------------------------------------
        # Block RAM read ports are not transparent: a read in the cycle of a write to the same
        # address returns the old entry, and the pipeline forwards the newer one itself (S2 for
        # the order table, S3 for the levels).
        orders = [[Memory(shape=order_entry, depth=self.order_sets, init=[])
                   for _ in range(WAYS)] for _ in range(TABLES)]
        for t in range(TABLES):
            for w in range(WAYS):
                m.submodules[f"orders{t}_{w}"] = orders[t][w]
        order_rd = [[orders[t][w].read_port() for w in range(WAYS)] for t in range(TABLES)]
        order_wr = [[orders[t][w].write_port() for w in range(WAYS)] for t in range(TABLES)]
        m.submodules.locates = locates = Memory(shape=locate_entry,
                                                depth=1 << self.locate_bits, init=[])
        locate_rd, locate_wr = locates.read_port(), locates.write_port()
        # Level copies: `update` is read-modified-written by S3; `best` is read by S6 at the
        # best bucket and written by S5, so that what S6 reads is the levels as its own
        # micro-op left them (the micro-op behind writes at the same clock edge, and a
        # non-transparent read returns the entry before it).
        level_depth = slots * 2 * levels
        m.submodules.levels_update = levels_update = Memory(shape=level_entry,
                                                            depth=level_depth, init=[])
        m.submodules.levels_best = levels_best = Memory(shape=level_entry,
                                                        depth=level_depth, init=[])
        m.submodules.best_level = finder = BestLevelFinder(levels)
        m.submodules.issue = issuer = IssueQueue()
        update_rd, update_wr = levels_update.read_port(), levels_update.write_port()
        best_rd, best_wr = levels_best.read_port(), levels_best.write_port()
        # Occupancy bitmaps, one row per slot and side, and the per-slot tables: LUT RAM read
        # asynchronously, so the stage that reads an entry and writes it back sees the previous
        # micro-op's write. Their reset state comes from the flip-flop bits beside them
        # (`based`, `named`, `stated`, `has_published`).
        (bitmap_rd,), bitmap_wr = slot_table(m, "bitmaps", levels, slots * 2)
        (base_add_rd, base_u_rd, base_price_rd), base_wr = slot_table(m, "base", 32, slots,
                                                                      readers=3)
        (state_rd,), state_wr = slot_table(m, "state", 8, slots)
        (stock_rd, stock_map_rd), stock_wr = slot_table(m, "stock", 64, slots, readers=2)
        (published_rd,), published_wr = slot_table(m, "published", bbo_layout, slots)
        based, named, stated, has_published = (Signal(slots, name=n) for n in (
            "based", "named", "stated", "has_published"))
        # Registers, not RAM: a subscription compares its locate with every slot's at once.
        slot_locate = Array(Signal(16, name=f"slot_locate{s}") for s in range(slots))
        unreliable = Signal(slots)
        next_slot = Signal(range(slots + 1))

        # The reset sweep's state (the sweep itself is at the end: its writes take the ports).
        clearing = Signal(init=1)
        sweep = Signal(range(self.clear_cycles))

        # --- issue: the queue's head, else the incoming event (hw/rtl/book_issue.py) ----------
        incoming = self.i_event.valid & ~clearing
        m.d.comb += [issuer.i_event.valid.eq(incoming), issuer.i_event.p.eq(self.i_event.p)]
        issue, op0, dropped = issuer.o_op.valid, issuer.o_op.p, issuer.dropped

        key0 = Mux(op0.second, op0.feed.event.new_ref, op0.feed.event.ref)
        for t in range(TABLES):
            for w in range(WAYS):
                m.d.comb += order_rd[t][w].addr.eq(_set_index(key0, set_bits, t))
        m.d.comb += locate_rd.addr.eq(op0.feed.event.locate[:self.locate_bits])

        # --- S1: tags matched, slot found ---------------------------------------------------------
        v1, op1, key1 = Signal(), Signal(MicroOp), Signal(64)
        sets1 = [Signal(set_bits, name=f"set{t}_1") for t in range(TABLES)]
        m.d.sync += [v1.eq(issue), op1.eq(op0), key1.eq(key0)]
        m.d.sync += [sets1[t].eq(_set_index(key0, set_bits, t)) for t in range(TABLES)]
        ev1 = op1.feed.event

        # The order ways as read, and whether each holds this ref; whether this ref is the
        # ref of the one or two micro-ops ahead, whose writes the read missed (S2 forwards).
        v2, op2, key2 = Signal(), Signal(MicroOp), Signal(64)
        sets2 = [Signal(set_bits, name=f"set{t}_2") for t in range(TABLES)]
        key3 = Signal(64)
        raw2 = [[Signal(order_entry, name=f"raw{t}_{w}") for w in range(WAYS)]
                for t in range(TABLES)]
        raw_match2 = [[Signal(name=f"raw_match{t}_{w}") for w in range(WAYS)]
                      for t in range(TABLES)]
        raw_hit2 = Signal()
        same_ref_as_1, same_ref_as_2 = Signal(), Signal()
        m.d.sync += [v2.eq(v1), op2.eq(op1), key2.eq(key1), key3.eq(key2),
                     same_ref_as_1.eq(key1 == key2), same_ref_as_2.eq(key1 == key3)]
        m.d.sync += [sets2[t].eq(sets1[t]) for t in range(TABLES)]
        raw_matches = []
        for t in range(TABLES):
            for w in range(WAYS):
                read = order_rd[t][w].data
                raw_matches.append(read.valid & (read.tag == key1[set_bits:]))
                m.d.sync += [raw2[t][w].eq(read), raw_match2[t][w].eq(raw_matches[-1])]
        m.d.sync += raw_hit2.eq(Cat(*raw_matches).any())

        # The order writes of the two micro-ops ahead (`fw0` the latest, made by the micro-op
        # now in S2; `fw1` the one before): the block RAM read of this one happened before they
        # landed. Whether each lands in this micro-op's set of a table is compared here, from
        # registers, so that S2 only checks the table and way it wrote.
        fw = [{"en": Signal(name=f"fw{d}_en"), "table": Signal(range(TABLES), name=f"fw{d}_table"),
               "way": Signal(range(WAYS), name=f"fw{d}_way"),
               "set": Signal(set_bits, name=f"fw{d}_set"),
               "data": Signal(order_entry, name=f"fw{d}_data")} for d in (0, 1)]
        m.d.sync += [fw[1][name].eq(fw[0][name]) for name in fw[0]]
        same_set2 = [[Signal(name=f"same_set{d}_{t}_2") for t in range(TABLES)] for d in (0, 1)]
        m.d.sync += [same_set2[0][t].eq(sets1[t] == sets2[t]) for t in range(TABLES)]
        m.d.sync += [same_set2[1][t].eq(sets1[t] == fw[0]["set"]) for t in range(TABLES)]

        # The previous micro-op's locate write (not yet visible to this one's read).
        lw_en = Signal()
        lw_locate = Signal(self.locate_bits)
        lw_slot = Signal(slot_bits)
        locate_low = ev1.locate[:self.locate_bits]
        known = Signal(locate_entry)
        m.d.comb += known.eq(Mux(lw_en & (lw_locate == locate_low),
                                 Cat(Const(1, 1), lw_slot), locate_rd.data))
        in_table = (ev1.locate >> self.locate_bits) == 0
        can_learn = self.learn & in_table & ~known.valid & (next_slot < slots)
        subscribed = in_table & (known.valid | can_learn)
        symbol_slot = Mux(known.valid, known.slot, next_slot[:slot_bits])
        names_symbol = v1 & ~op1.second & (
            (ev1.kind == BookEventKind.ADD) | (ev1.kind == BookEventKind.TRADING_STATE)
            | (ev1.kind == BookEventKind.DIRECTORY))
        learn = names_symbol & can_learn

        # A host subscription waits in `sub_pending`: a cycle to compare its locate with every
        # slot's (registered, off the event path), then for a cycle in which no event learns
        # (the two would race for the next slot and the table's write port). A learn while it
        # waits makes it compare again. At most 'slots' cycles ever learn, and the CSR bus
        # writes at most once in 4 cycles (hw/rtl/hostbus.py), so the host never waits on it.
        sub_pending, sub_checked, sub_known = Signal(), Signal(), Signal()
        sub_locate = Signal(16)
        sub_apply = sub_pending & sub_checked & ~learn
        sub_accept = self.subscribe.valid & ~clearing & (~sub_pending | sub_apply)
        sub_lost = self.subscribe.valid & ~sub_accept
        m.d.sync += sub_known.eq(Cat(*((slot_locate[s] == sub_locate) & (s < next_slot)
                                       for s in range(slots))).any())
        with m.If(sub_accept):
            m.d.sync += [sub_pending.eq(1), sub_checked.eq(0), sub_locate.eq(self.subscribe.p)]
        with m.Elif(sub_apply):
            m.d.sync += [sub_pending.eq(0), sub_checked.eq(0)]
        with m.Else():
            m.d.sync += sub_checked.eq(sub_pending & ~learn)
        sub_refused = sub_apply & ~sub_known & (
            ((sub_locate >> self.locate_bits) != 0) | (next_slot == slots))
        sub_take = sub_apply & ~sub_known & ~sub_refused

        # A slot is taken by learning or by a subscription (never both in one cycle).
        take = learn | sub_take
        take_locate = Mux(learn, ev1.locate, sub_locate)
        m.d.sync += lw_en.eq(take)
        with m.If(take):
            m.d.sync += [next_slot.eq(next_slot + 1), lw_locate.eq(take_locate),
                         lw_slot.eq(next_slot), slot_locate[next_slot].eq(take_locate)]
        m.d.comb += [locate_wr.en.eq(take), locate_wr.addr.eq(take_locate),
                     locate_wr.data.eq(Cat(Const(1, 1), next_slot[:slot_bits]))]
        symbol_slot2, subscribed2 = Signal(slot_bits), Signal()
        m.d.sync += [symbol_slot2.eq(symbol_slot), subscribed2.eq(subscribed)]
        # The symbol's price window as S1 finds it, so that S2's window check starts from
        # registers (S2 adds the window the micro-op ahead places in this cycle).
        base2, has_base2 = Signal(32), Signal()
        m.d.comb += base_add_rd.addr.eq(symbol_slot)
        m.d.sync += [base2.eq(base_add_rd.data), has_base2.eq(based.bit_select(symbol_slot, 1))]
        # The window this add would place if its slot has none: its price in the middle.
        half_window = (levels // 2) << shift
        fresh_base2, fresh_offset2 = Signal(32), Signal(33)
        high_price = ev1.price >= half_window
        m.d.sync += [fresh_base2.eq(Mux(high_price, ev1.price - half_window, 0)),
                     fresh_offset2.eq(Mux(high_price, half_window, ev1.price))]

        # --- S2: the order decided; order table written -------------------------------------------
        ev = op2.feed.event
        kind = ev.kind
        # This micro-op's order: the newest write to its ref ahead of it, else the way that
        # matched as read (a write of another ref never lands in a way holding this one: an
        # insert takes a free way, and only this ref's own micro-ops free its way). Forwarding
        # by ref keeps the write-position compares below off this path, which decides the
        # order write and the level read address.
        flat = [(t, w) for t in range(TABLES) for w in range(WAYS)]
        raw_found, raw_table, raw_way = 0, 0, 0
        for t, w in flat:   # one-hot: a ref is in at most one way
            raw_found = raw_found | Mux(raw_match2[t][w], raw2[t][w].as_value(), 0)
            raw_table = raw_table | Mux(raw_match2[t][w], t, 0)
            raw_way = raw_way | Mux(raw_match2[t][w], w, 0)
        latest = [same_ref_as_1 & fw[0]["en"], same_ref_as_2 & fw[1]["en"]]
        found = Signal(order_entry)
        hit = Signal()
        hit_table = Signal(range(TABLES))
        hit_way = Signal(range(WAYS))
        with m.If(latest[0]):
            m.d.comb += [found.eq(fw[0]["data"]), hit.eq(fw[0]["data"].valid),
                         hit_table.eq(fw[0]["table"]), hit_way.eq(fw[0]["way"])]
        with m.Elif(latest[1]):
            m.d.comb += [found.eq(fw[1]["data"]), hit.eq(fw[1]["data"].valid),
                         hit_table.eq(fw[1]["table"]), hit_way.eq(fw[1]["way"])]
        with m.Else():
            m.d.comb += [found.eq(raw_found), hit.eq(raw_hit2),
                         hit_table.eq(raw_table), hit_way.eq(raw_way)]

        # Which ways are taken, for an insert: as read, then the two writes ahead where they
        # landed in this micro-op's sets (the oldest first, the newest wins).
        taken = [[Signal(name=f"taken{t}_{w}") for w in range(WAYS)] for t in range(TABLES)]
        for t, w in flat:
            m.d.comb += taken[t][w].eq(raw2[t][w].valid)
            for d in (1, 0):
                f = fw[d]
                with m.If(f["en"] & (f["table"] == t) & (f["way"] == w) & same_set2[d][t]):
                    m.d.comb += taken[t][w].eq(f["data"].valid)
        used = [sum(taken[t][w] for w in range(WAYS)) for t in range(TABLES)]
        free_table = Signal(range(TABLES))
        m.d.comb += free_table.eq(used[1] < used[0])
        table_full = Mux(free_table, used[1], used[0]) == WAYS
        free_way = Signal(range(WAYS))
        for w in reversed(range(WAYS)):
            with m.If(~Mux(free_table, taken[1][w], taken[0][w])):
                m.d.comb += free_way.eq(w)

        # The U's first half tells its second half (always the next micro-op) where the old
        # order was.
        u_hit, u_slot, u_side, u_base = Signal(), Signal(slot_bits), Signal(), Signal(32)
        is_add = v2 & (kind == BookEventKind.ADD) & ~op2.second
        is_u1 = v2 & (kind == BookEventKind.REPLACE) & ~op2.second
        is_u2 = v2 & (kind == BookEventKind.REPLACE) & op2.second
        is_reduce = v2 & ((kind == BookEventKind.EXECUTE) | (kind == BookEventKind.CANCEL)
                          | (kind == BookEventKind.DELETE))
        m.d.comb += base_u_rd.addr.eq(found.slot)
        with m.If(is_u1):
            m.d.sync += [u_hit.eq(hit), u_slot.eq(found.slot), u_side.eq(found.side),
                         u_base.eq(base_u_rd.data)]

        adding = (is_add & subscribed2) | (is_u2 & u_hit)
        add_slot = Mux(is_u2, u_slot, symbol_slot2)
        add_side = Mux(is_u2, u_side, ev.side)
        duplicate = adding & hit
        empty = adding & ~hit & ((ev.shares == 0) | (ev.price == 0))
        try_insert = adding & ~hit & ~empty
        # The window: a U's second half adds to the old order's slot, which has one (its
        # order was added in it); an add's symbol has the one S1 read, or the one the
        # micro-op ahead placed (`placed`), or none yet.
        placed_en, placed_slot, placed_base = Signal(), Signal(slot_bits), Signal(32)
        placed = placed_en & (placed_slot == symbol_slot2)
        has_base = is_u2 | placed | has_base2
        # Each candidate's subtraction starts from registers, and the choice comes after
        # (a window placed by this add puts its price at the middle: no subtraction at all).
        offset = Signal(33)
        m.d.comb += offset.eq(Mux(is_u2, ev.price - u_base,
                                  Mux(placed, ev.price - placed_base,
                                      Mux(has_base2, ev.price - base2, fresh_offset2))))
        in_window = ~offset[32] & ((offset[:32] >> (shift + level_bits)) == 0)
        add_bucket = offset[shift:shift + level_bits]
        out_of_window = try_insert & ~in_window
        overflow = try_insert & in_window & table_full
        insert = try_insert & in_window & ~table_full
        # A slot's window is placed by its first add, kept or not, and never moves.
        place = try_insert & ~has_base
        with m.If(place):
            m.d.sync += based.bit_select(add_slot, 1).eq(1)
        m.d.comb += [base_wr.en.eq(place), base_wr.addr.eq(add_slot),
                     base_wr.data.eq(fresh_base2)]
        m.d.sync += [placed_en.eq(place), placed_slot.eq(add_slot), placed_base.eq(fresh_base2)]

        removing = (is_reduce | is_u1) & hit
        unknown = (is_reduce | is_u1) & ~hit
        whole = (kind == BookEventKind.DELETE) | (kind == BookEventKind.REPLACE)
        # One subtraction gives both: the order is gone when the cut takes all its shares.
        remains = Signal(33)
        m.d.comb += remains.eq(found.shares - ev.shares)
        gone = whole | remains[32] | (remains[:32] == 0)
        cut = Mux(gone, found.shares, ev.shares)

        # Order table write: an insert, or the order's remaining shares (gone at zero). When
        # there is a write, `hit` alone tells which, and it settles long before `insert` (after
        # the window's subtraction), which is left to drive the write enables only.
        new_entry = Signal(order_entry)
        write_table = Mux(hit, hit_table, free_table)
        write_way = Mux(hit, hit_way, free_way)
        with m.If(~hit):
            m.d.comb += [new_entry.valid.eq(1), new_entry.tag.eq(key2[set_bits:]),
                         new_entry.slot.eq(add_slot), new_entry.side.eq(add_side),
                         new_entry.bucket.eq(add_bucket),
                         new_entry.shares.eq(ev.shares)]
        with m.Else():
            m.d.comb += [new_entry.eq(found), new_entry.shares.eq(Mux(gone, 0, remains[:32])),
                         new_entry.valid.eq(~gone)]
        writes = insert | removing
        for t, w in flat:
            port = order_wr[t][w]
            m.d.comb += [port.en.eq(writes & (write_table == t) & (write_way == w)),
                         port.addr.eq(sets2[t]), port.data.eq(new_entry)]
        m.d.sync += [fw[0]["en"].eq(writes), fw[0]["table"].eq(write_table),
                     fw[0]["way"].eq(write_way),
                     fw[0]["set"].eq(Mux(write_table, sets2[1], sets2[0])),
                     fw[0]["data"].eq(new_entry)]

        # What S3 does: a level change (an add when there was no hit), then (except for a U's
        # first half) a BBO evaluation.
        # A live order never holds 0 shares, so a removal cuts nothing only when it is not
        # gone and asks for 0 shares.
        level_op = insert | (removing & (gone | (ev.shares != 0)))
        evaluate = (level_op & ~is_u1) | (is_u2 & u_hit)
        is_state = v2 & (kind == BookEventKind.TRADING_STATE) & subscribed2
        is_directory = v2 & (kind == BookEventKind.DIRECTORY) & subscribed2
        # The slot and side an update is about: the order's for a removal, the add's for an
        # add (a U's second half: the old order's), the event's symbol otherwise.
        op_slot = Mux((is_reduce | is_u1) & hit, found.slot, add_slot)
        op_side = Mux(is_u2, u_side, Mux(hit, found.side, Mux(is_add, ev.side, 0)))
        op_bucket = Mux(hit, found.bucket, add_bucket)
        m.d.comb += [state_wr.en.eq(is_state), state_wr.addr.eq(symbol_slot2),
                     state_wr.data.eq(ev.code),
                     stock_wr.en.eq(is_directory), stock_wr.addr.eq(symbol_slot2),
                     stock_wr.data.eq(ev.stock)]
        with m.If(is_state):
            m.d.sync += stated.bit_select(symbol_slot2, 1).eq(1)
        with m.If(is_directory):
            m.d.sync += named.bit_select(symbol_slot2, 1).eq(1)
        m.d.comb += update_rd.addr.eq(Cat(op_bucket, op_side, op_slot))

        level3, evaluate3, state3, add3, lost3 = (Signal(name=n) for n in (
            "level3", "evaluate3", "state3", "add3", "lost3"))
        slot3, side3, lost_slot3 = Signal(slot_bits), Signal(), Signal(slot_bits)
        bucket3, offset3, amount3 = Signal(level_bits), Signal(level_entry.size - 32), Signal(32)
        addend3 = Signal(32)
        feed_meta = data.StructLayout({"index": 48, "ingress_cycle": 64, "locate": 16})
        meta3 = Signal(feed_meta)
        m.d.sync += [level3.eq(level_op), evaluate3.eq(evaluate),
                     state3.eq(is_state), add3.eq(~hit), slot3.eq(op_slot), side3.eq(op_side),
                     bucket3.eq(op_bucket), offset3.eq(offset[:len(offset3)] if shift else 0),
                     amount3.eq(Mux(hit, cut, ev.shares)),
                     addend3.eq(Mux(hit, ~cut, ev.shares)),
                     lost3.eq(out_of_window | overflow), lost_slot3.eq(add_slot),
                     meta3.index.eq(op2.feed.index),
                     meta3.ingress_cycle.eq(op2.feed.ingress_cycle)]

        # --- S3: the level's aggregate; levels written ------------------------------------------
        lv_en = Signal()
        lv_addr = Signal(range(level_depth))
        lv_data = Signal(level_entry)
        addr3 = Cat(bucket3, side3, slot3)
        level = Signal(level_entry)
        m.d.comb += level.eq(Mux(lv_en & (lv_addr == addr3), lv_data, update_rd.data))
        # One carry chain for both directions (a removal adds the complement and a carry in,
        # both formed in S2). Whether the level empties is compared beside it rather than
        # found from its sum: an add that applies never empties a level.
        total = Signal(33)
        m.d.comb += total.eq(level.shares + addend3 + ~add3)
        empties = ~add3 & (level.shares == amount3)
        conflict = level3 & add3 & (level.shares != 0) & (level.offset != offset3)
        too_big = level3 & add3 & total[32]
        applied = level3 & ~conflict & ~too_big
        written = Signal(level_entry)
        m.d.comb += [written.offset.eq(Mux(empties, 0, Mux(add3, offset3, level.offset))),
                     written.shares.eq(total[:32])]
        m.d.comb += [update_wr.en.eq(applied), update_wr.addr.eq(addr3),
                     update_wr.data.eq(written)]
        m.d.sync += [lv_en.eq(applied), lv_addr.eq(addr3), lv_data.eq(written)]

        # Unreliable: set by this micro-op's drops (S2 and S3), cleared by the host (a set in
        # the same cycle wins); every update carries the flag as its own message left it.
        sets = Signal(slots)
        m.d.comb += sets.eq(Mux(lost3, 1 << lost_slot3, 0)
                            | Mux(conflict | too_big, 1 << slot3, 0)
                            | Mux(dropped, (1 << slots) - 1, 0))
        kept = unreliable & ~self.clear_unreliable
        m.d.sync += unreliable.eq(kept | sets)
        # The update's flag: this slot's bit of the above, with the slot selected from
        # registers and the late drops ORed in after (a drop in S2 is always this slot's:
        # it is an insert, whose slot is the one S3 works on).
        flag = kept.bit_select(slot3, 1) | lost3 | conflict | too_big | dropped

        # The slot's identity as this message finds it (S2 wrote this message's own H or R a
        # cycle ago; the micro-op behind writes at the end of this cycle).
        m.d.comb += [state_rd.addr.eq(slot3), stock_rd.addr.eq(slot3)]
        slot_meta = data.StructLayout({"feed": feed_meta, "stock": 64, "named": 1, "state": 8})
        # What the stages after S3 carry along for an update, one register per stage.
        carried_layout = data.StructLayout({"evaluate": 1, "state": 1, "side": 1, "flag": 1,
                                            "slot": slot_bits, "meta": slot_meta})
        carried4 = Signal(carried_layout)
        level4, occupied4 = Signal(), Signal()
        bucket4, written4 = Signal(level_bits), Signal(level_entry)
        m.d.sync += [level4.eq(applied), occupied4.eq(~empties), bucket4.eq(bucket3),
                     written4.eq(written),
                     carried4.evaluate.eq(evaluate3), carried4.state.eq(state3),
                     carried4.side.eq(side3), carried4.slot.eq(slot3),
                     carried4.flag.eq(flag),
                     carried4.meta.feed.eq(meta3),
                     carried4.meta.feed.locate.eq(slot_locate[slot3]),
                     carried4.meta.stock.eq(Mux(named.bit_select(slot3, 1), stock_rd.data, 0)),
                     carried4.meta.named.eq(named.bit_select(slot3, 1)),
                     carried4.meta.state.eq(Mux(stated.bit_select(slot3, 1), state_rd.data, 0))]
        side4, slot4 = carried4.side, carried4.slot

        # --- S4: the level's bit in the slot's occupancy bitmap -----------------------------------
        m.d.comb += bitmap_rd.addr.eq(Cat(side4, slot4))
        row_after = Signal(levels)
        m.d.comb += row_after.eq(bitmap_rd.data)
        with m.If(level4):
            m.d.comb += row_after.bit_select(bucket4, 1).eq(occupied4)
        m.d.comb += [bitmap_wr.en.eq(level4), bitmap_wr.addr.eq(Cat(side4, slot4)),
                     bitmap_wr.data.eq(row_after)]

        def stage(name, value):
            following = Signal.like(value, name=name)
            m.d.sync += following.eq(value)
            return following

        carried5, row5 = stage("carried5", carried4), stage("row5", row_after)
        best_write5 = {"en": stage("best_en5", level4),
                       "addr": stage("best_addr5", Cat(bucket4, side4, slot4)),
                       "data": stage("best_data5", written4)}

        # --- S5 and S6: the best bucket (hw/rtl/best_level.py), S6 reads its level ---------------
        m.d.comb += [best_wr.en.eq(best_write5["en"]), best_wr.addr.eq(best_write5["addr"]),
                     best_wr.data.eq(best_write5["data"])]
        m.d.comb += [finder.row.eq(row5), finder.side.eq(carried5.side)]
        carried6 = stage("carried6", carried5)
        any6, best6 = finder.any, finder.best
        m.d.comb += best_rd.addr.eq(Cat(best6, carried6.side, carried6.slot))
        carried7, any7, best7 = (stage("carried7", carried6), stage("any7", any6),
                                 stage("best7", best6))

        # --- S7: the best level's price ----------------------------------------------------------
        best_level = Signal(level_entry)
        m.d.comb += [best_level.eq(best_rd.data), base_price_rd.addr.eq(carried7.slot)]
        # bucket << shift plus the offset within the bucket is a concatenation.
        in_window_price = Cat(best_level.offset, best7) if shift else best7
        side_price8, side_shares8 = Signal(32), Signal(32)
        m.d.sync += [side_price8.eq(Mux(any7, base_price_rd.data + in_window_price, 0)),
                     side_shares8.eq(Mux(any7, best_level.shares, 0))]
        carried8 = stage("carried8", carried7)
        evaluate8, state8, side8, slot8, meta8 = (carried8.evaluate, carried8.state,
                                                  carried8.side, carried8.slot, carried8.meta)
        # The slot's last published BBO, read here so that S8 starts from registers. The
        # micro-op in S8 publishes at the end of this cycle, which the read misses: when it
        # does, and for this slot, S8 takes its BBO instead (`follows8`) from the output
        # register, which holds every micro-op's BBO, published or not.
        m.d.comb += published_rd.addr.eq(carried7.slot)
        read8, follows8 = Signal(bbo_layout), Signal()
        changed = Signal()
        m.d.sync += [read8.eq(Mux(has_published.bit_select(carried7.slot, 1),
                                  published_rd.data, 0)),
                     follows8.eq(changed & (slot8 == carried7.slot))]

        # --- S8: the BBO, against the one last published; published written ----------------------
        before = Signal(bbo_layout)
        m.d.comb += before.eq(read8)
        with m.If(follows8):
            m.d.comb += [getattr(before, name).eq(getattr(self.o_update.p, name))
                         for name in bbo_layout.members]
        after = Signal(bbo_layout)
        m.d.comb += after.eq(before)
        with m.If(side8):
            m.d.comb += [after.ask_price.eq(side_price8), after.ask_shares.eq(side_shares8)]
        with m.Else():
            m.d.comb += [after.bid_price.eq(side_price8), after.bid_shares.eq(side_shares8)]
        # Only this side can differ: each side compared beside the other, then one picked.
        bid_moved = Cat(before.bid_price, before.bid_shares) != Cat(side_price8, side_shares8)
        ask_moved = Cat(before.ask_price, before.ask_shares) != Cat(side_price8, side_shares8)
        m.d.comb += changed.eq(evaluate8 & Mux(side8, ask_moved, bid_moved))
        m.d.comb += [published_wr.en.eq(changed), published_wr.addr.eq(slot8),
                     published_wr.data.eq(after)]
        with m.If(changed):
            m.d.sync += has_published.bit_select(slot8, 1).eq(1)

        out = self.o_update
        m.d.sync += [out.valid.eq(changed | state8),
                     out.p.locate.eq(meta8.feed.locate), out.p.slot.eq(slot8),
                     out.p.bid_price.eq(after.bid_price), out.p.bid_shares.eq(after.bid_shares),
                     out.p.ask_price.eq(after.ask_price), out.p.ask_shares.eq(after.ask_shares),
                     out.p.stock.eq(meta8.stock), out.p.named.eq(meta8.named),
                     out.p.state.eq(meta8.state), out.p.unreliable.eq(carried8.flag),
                     out.p.bbo_changed.eq(changed), out.p.state_changed.eq(state8),
                     out.p.index.eq(meta8.feed.index),
                     out.p.ingress_cycle.eq(meta8.feed.ingress_cycle)]

        # --- reset sweep --------------------------------------------------------------------------
        # Every RAM written empty, one address a cycle (a shallower RAM is swept again as the
        # address wraps). Nothing issues meanwhile, so no stage writes; these drives come last
        # and take the ports for the sweep's cycles.
        with m.If(clearing):
            m.d.sync += sweep.eq(sweep + 1)
            with m.If(sweep == self.clear_cycles - 1):
                m.d.sync += clearing.eq(0)
            for port in [*(order_wr[t][w] for t, w in flat), locate_wr, update_wr, best_wr,
                         bitmap_wr]:
                m.d.comb += [port.en.eq(1), port.addr.eq(sweep), port.data.eq(0)]

        # --- counters and status ----------------------------------------------------------------
        count_events(m, self.counters, {
            "events": incoming,
            "bbo_updates": changed,
            "state_updates": state8,
            "duplicate_ref": duplicate,
            "empty_add": empty,
            "unknown_ref": unknown,
            "unsubscribed": names_symbol & ~subscribed,
            "order_overflow": overflow,
            "price_out_of_window": out_of_window,
            "level_conflict": conflict,
            "level_overflow": too_big,
            "queue_overflow": dropped,
            "subscribe_refused": sub_refused | sub_lost,
            "clearing_drop": self.i_event.valid & clearing,
        })
        m.d.comb += [self.unreliable.eq(unreliable), self.slots_used.eq(next_slot),
                     self.clearing.eq(clearing)]

        # --- the slot map, for the host ---------------------------------------------------------
        # Registered: the host reads it a bus access after selecting the slot, and the select's
        # fan-out stays off every other path.
        taken = (self.map_slot < next_slot) & ~clearing
        map_index = self.map_slot[:slot_bits]
        map_named = taken & named.bit_select(map_index, 1)
        m.d.comb += stock_map_rd.addr.eq(map_index)
        m.d.sync += [self.map_locate.eq(Mux(taken, slot_locate[map_index], 0)),
                     self.map_named.eq(map_named),
                     self.map_stock.eq(Mux(map_named, stock_map_rd.data, 0))]
        return m

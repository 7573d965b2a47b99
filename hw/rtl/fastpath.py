"""The whole fast path on the NIC: MAC frames in, FIX orders out, behind one CSR bank.

    frames -> Ingress -> BookBuilder -> Trader <-> Strategy
                                        Trader <-> RiskGate
                                        Trader -> FIFO -> OrderEncoder -> egress bytes
                                                                        -> order events (host)

This is the design `nerve replay --backend rtl` simulates and the tick-to-trade benchmark
measures. Time is the NIC's PTP clock (`time`, cycles since midnight UTC): the ingress stamps
frames with it and the encoder stamps egress with it.

One register map (`REGMAP`, exported by `nerve regmap`) serves every block: the ingress's, the
book's, `risk_*` (limits, commit, kill switch `risk_halt`, reset 1), `strategy_*` (parameters,
commit), `fix_*` (session identity, trade date, MsgSeqNum) and `trader_*` (order ends, the host
order port, fault).
Trading halts (the gate's halt input) while the kill switch is on, the Trader has a fault, the
encoder's configuration is invalid, or the card around it says so (`host_halt`: lost host
events, hw/rtl/nic.py).
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl import book, encoder, ingress, risk, strategy, trader
from hw.rtl.capacity import DEFAULT, Capacity
from hw.rtl.csr import CsrBank, CsrBus, RegisterMap, own_or_shared_bank
from hw.rtl.fallthrough import FallThroughFIFO
from hw.rtl.records import BookUpdate, EncodeCommand, FrameBeat, OrderEvent

# The register map is sized for the default capacity, the largest (hw/rtl/capacity.py).
SLOTS = DEFAULT.slots
ORDERS = DEFAULT.orders   # order-table entries: chains sent and not yet ended by the host
COMMAND_FIFO = 32         # orders waiting for the encoder
#: The fast path's register blocks (the card, hw/rtl/nic.py, extends this list).
BLOCKS = (
    *ingress.BLOCKS,
    ("book", book.registers(SLOTS)),
    ("risk", risk.registers()),
    ("strategy", strategy.registers()),
    ("fix", encoder.registers()),
    ("trader", trader.registers(ORDERS)),
)
REGMAP = RegisterMap(BLOCKS)
ADDR_WIDTH = ingress.ADDR_WIDTH


class FastPath(wiring.Component):
    """Ingress, book, strategy, risk gate, order table and FIX encoder (see the module doc).

    Rate: one frame beat per clock, no backpressure on `i_frame`. `o_egress` and `o_event`
    honour ready (the MAC and the host may stall them); a stall that lasts long enough fills
    the FIFOs in front of them, and the lost book update raises the Trader's fault, which
    halts trading and cancels every live order: nothing is dropped silently.
    `o_update` is the book's output, for monitoring (valid without ready).
    Registers: on its own, the fast path serves `REGMAP` on its `csr` port; the card
    (hw/rtl/nic.py) passes `bank=`, a CsrBank of a map that includes `REGMAP`'s blocks.
    Reset: halted (`risk_halt` = 1), no limits (every slot SYMBOL_DISABLED), every strategy
    slot OFF, nothing passes the network filter until its destination is written.
    Capacity: a build parameter (hw/rtl/capacity.py), `DEFAULT` unless given; the register map
    is the same for every capacity, and `book_slots` tells the host how many slots there are.
    """

    def __init__(self, bank: CsrBank | None = None, *, capacity: Capacity = DEFAULT):
        if not isinstance(capacity, Capacity):
            raise TypeError(f"capacity must be a Capacity, not {capacity!r}")
        self._bank = bank
        self.capacity = capacity
        ports = {
            "i_frame": In(stream.Signature(FrameBeat, always_ready=True)),
            "time": In(64),
            "o_egress": Out(stream.Signature(FrameBeat)),
            "o_event": Out(stream.Signature(OrderEvent)),
            "o_update": Out(stream.Signature(BookUpdate, always_ready=True)),
            "busy": Out(1),
            # For a board's lights: trading halted, the feed stale.
            "halted": Out(1),
            "stale": Out(1),
            # The card around the fast path halts trading too (e.g. lost host events).
            "host_halt": In(1),
        }
        if bank is None:
            ports["csr"] = In(CsrBus(ADDR_WIDTH))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        bank = own_or_shared_bank(m, self, self._bank, REGMAP, ADDR_WIDTH)
        m.submodules.ingress = feed = ingress.Ingress(bank=bank, external_time=True)
        size = self.capacity
        m.submodules.book = books = book.BookBuilder(slots=size.slots, order_sets=size.order_sets,
                                                     levels=size.levels)
        m.submodules.trader = trading = trader.Trader(slots=size.slots, orders=size.orders)
        m.submodules.strategy = quoting = strategy.Strategy(slots=size.slots)
        m.submodules.gate = gate = risk.RiskGate(slots=size.slots)
        m.submodules.commands = commands = FallThroughFIFO(shape=EncodeCommand,
                                                           depth=COMMAND_FIFO)
        m.submodules.encoder = fix = encoder.OrderEncoder()

        wiring.connect(m, mac=wiring.flipped(self.i_frame), ingress=feed.i_frame)
        wiring.connect(m, ingress=feed.o_event, book=books.i_event)
        wiring.connect(m, trader=trading.o_decision, strategy=quoting.i_decision)
        wiring.connect(m, strategy=quoting.o_intents, trader=trading.i_intents)
        wiring.connect(m, trader=trading.o_request, gate=gate.i_request)
        wiring.connect(m, gate=gate.o_verdict, trader=trading.i_verdict)
        # Orders wait in a FIFO while the encoder streams an earlier message (and pass
        # straight through it when the encoder is free).
        wiring.connect(m, trader=trading.o_command, commands=commands.w)
        wiring.connect(m, commands=commands.r, encoder=fix.i_command)
        wiring.connect(m, encoder=fix.o_egress, mac=wiring.flipped(self.o_egress))
        wiring.connect(m, encoder=fix.o_event, host=wiring.flipped(self.o_event))

        # The book feeds the Trader and the monitor tap alike (neither stalls it).
        wiring.connect(m, book=books.o_update, trader=trading.i_update)
        wiring.connect(m, book=books.o_update, monitor=wiring.flipped(self.o_update))

        # --- time, feed state and the host's kill switch ---------------------------------
        m.d.comb += [
            feed.time.eq(self.time),
            fix.time.eq(self.time),
            trading.stale.eq(feed.stale),
            trading.stale_index.eq(feed.stale_index),
            trading.stale_cycle.eq(feed.stale_cycle),
            trading.next_index.eq(feed.next_index),
            trading.now.eq(feed.now),
            trading.halt.eq(bank.rw["risk_halt"] | fix.config_error | self.host_halt),
            gate.halt.eq(trading.halted),
            gate.position_slot.eq(trading.position_slot),
            trading.confirmed_position.eq(gate.confirmed_position),
            # Busy until the last order's bytes are out (the replay's between-packets).
            self.busy.eq(trading.busy | (commands.level != 0) | fix.o_egress.valid),
            self.halted.eq(trading.halted),
            self.stale.eq(feed.stale),
        ]

        # --- registers ----------------------------------------------------------------------
        self._book_registers(m, bank, books)
        self._risk_registers(m, bank, gate)
        self._strategy_registers(m, bank, quoting)
        self._fix_registers(m, bank, fix)
        m.d.comb += [
            trading.order_end.valid.eq(bank.command["trader_order_end"].stb),
            trading.order_end.p.eq(bank.command["trader_order_end"].value),
            # The host order port: the submit names slot, side and TIF; price and qty staged.
            trading.host_order.valid.eq(bank.command["trader_order_submit"].stb),
            trading.host_order.p.slot.eq(bank.command["trader_order_submit"].value[:8]),
            trading.host_order.p.side.eq(bank.command["trader_order_submit"].value[8]),
            trading.host_order.p.ioc.eq(bank.command["trader_order_submit"].value[9]),
            trading.host_order.p.price.eq(bank.rw["trader_order_price"]),
            trading.host_order.p.qty.eq(bank.rw["trader_order_qty"]),
            trading.unreliable.eq(books.unreliable),
            trading.clear_fault.eq(bank.clear["trader_fault"][0]),
            bank.ro["trader_fault"].eq(trading.fault),
            bank.ro["trader_open_chains"].eq(trading.open_chains),
        ]
        for name, _ in trading.counters.shape():
            m.d.comb += bank.ro[f"trader_{name}"].eq(getattr(trading.counters, name))
        return m

    @staticmethod
    def _book_registers(m, bank, books):
        m.d.comb += [
            books.clear_unreliable.eq(bank.clear["book_unreliable"]),
            books.learn.eq(bank.rw["book_learn"]),
            books.subscribe.valid.eq(bank.command["book_subscribe"].stb),
            books.subscribe.p.eq(bank.command["book_subscribe"].value),
            bank.ro["book_unreliable"].eq(books.unreliable),
            bank.ro["book_slots"].eq(books.slots),
            bank.ro["book_slots_used"].eq(books.slots_used),
            bank.ro["book_clearing"].eq(books.clearing),
            books.map_slot.eq(bank.rw["book_map_slot"]),
            bank.ro["book_map_locate"].eq(books.map_locate),
            bank.ro["book_map_named"].eq(books.map_named),
            bank.ro["book_map_stock"].eq(books.map_stock),
        ]
        for name, _ in books.counters.shape():
            m.d.comb += bank.ro[f"book_{name}"].eq(getattr(books.counters, name))

    @staticmethod
    def _risk_registers(m, bank, gate):
        for limit in risk.LIMITS:
            m.d.comb += getattr(gate.staged, limit.name).eq(bank.rw[f"risk_limit_{limit.name}"])
        commit = bank.command["risk_commit"]
        m.d.comb += [
            gate.staged_position.eq(bank.rw["risk_position"]),
            gate.commit.valid.eq(commit.stb),
            gate.commit.p.eq(commit.value),
            gate.clear_commit_error.eq(bank.clear["risk_commit_error"][0]),
            bank.ro["risk_commit_error"].eq(gate.commit_error),
        ]
        for name in risk.COUNTERS:
            m.d.comb += bank.ro[f"risk_{name}"].eq(getattr(gate.counters, name))

    @staticmethod
    def _strategy_registers(m, bank, quoting):
        for name, _ in strategy.StrategyParamsLayout:
            m.d.comb += getattr(quoting.staged, name).eq(bank.rw[f"strategy_param_{name}"])
        commit = bank.command["strategy_commit"]
        m.d.comb += [
            quoting.commit.valid.eq(commit.stb),
            quoting.commit.p.eq(commit.value),
            quoting.clear_commit_error.eq(bank.clear["strategy_commit_error"][0]),
            bank.ro["strategy_commit_error"].eq(quoting.commit_error),
            bank.ro["strategy_commit_busy"].eq(quoting.commit_busy),
        ]

    @staticmethod
    def _fix_registers(m, bank, fix):
        for name, _ in encoder.EncoderConfig:
            m.d.comb += getattr(fix.config, name).eq(bank.rw[f"fix_{name}"])
        m.d.comb += [
            fix.seq_set.valid.eq(bank.command["fix_seq_set"].stb),
            fix.seq_set.p.eq(bank.command["fix_seq_set"].value),
            fix.seq_reserve.eq(bank.command["fix_seq_reserve"].stb),
            bank.ro["fix_config_error"].eq(fix.config_error),
            bank.ro["fix_seq_reserved"].eq(fix.seq_reserved),
            bank.ro["fix_next_seq"].eq(fix.next_seq),
        ]

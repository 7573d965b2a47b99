"""The ingress of the NIC: MAC frames in, normalised book events out, behind a CSR bus.

    frames -> NetFilter (2 cycles) -> MoldUDP64 (1 cycle) -> ItchDecoder (1 cycle) -> events

`REGMAP` is the ingress register map, the one source of addresses for the drivers and the docs
(`nerve regmap` exports it).
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl import itch, moldudp64, netfilter
from hw.rtl.csr import CsrBank, CsrBus, Register, RegisterMap, own_or_shared_bank
from hw.rtl.records import FeedEvent, FrameBeat, PayloadBeat

REGISTERS = (
    Register("cycle", 64, "ro", "the fast path's time in cycles (156.25 MHz): a free-running "
             "counter, or the PTP time input in a design that has one (FastPath); events carry "
             "the value it had when their frame's first beat came in"),
)
#: The ingress's register blocks (a design that contains the ingress extends this list).
BLOCKS = (("ingress", REGISTERS), ("net", netfilter.REGISTERS), ("mold", moldudp64.REGISTERS),
          ("itch", itch.REGISTERS))
REGMAP = RegisterMap(BLOCKS)
ADDR_WIDTH = 16
#: Cycles from the beat carrying a message's last byte into `i_frame` to its event on `o_event`.
LATENCY = 4


class Ingress(wiring.Component):
    """MAC frames -> network filter -> MoldUDP64 -> ITCH decoder -> book events.

    Rate: one beat per clock, every clock, no backpressure (`i_frame.ready` is tied to 1).
    Latency: `LATENCY` cycles from the beat carrying an ITCH message's last byte to its event
    (filter 2, MoldUDP64 1, decoder 1). `stale` is the feed's sticky stale flag (cleared by
    writing 1 to `mold_stale`), ordered with the events: each event sees the flag as the golden
    model has it when that message is processed. `o_payload` is the filter's output, for
    monitoring (valid without ready).
    Reset: the filter's destination is 0.0.0.0:0, so nothing passes until the host writes
    `net_dst_ip`/`net_dst_port`; no MoldUDP64 session is learned.

    Time: by default the ingress stamps frames with its own free-running cycle counter. A NIC
    whose MAC timestamps frames from a PTP hardware clock (which the host sets to the time of
    day) builds it with `external_time=True`: frames are then stamped with the `time` input,
    in cycles since midnight UTC. The replay drives `time` with the feed's own timestamps.
    `now` is the stamp of the latest frame (the golden model's `now`); `next_index`,
    `stale_index` and `stale_cycle` come from the MoldUDP64 stage (where stale last rose).

    Registers: on its own, the ingress serves `REGMAP` on its `csr` port. A design that
    contains it passes `bank=`, a CsrBank of a map that includes `BLOCKS` (which that design
    elaborates); the ingress then has no `csr` port and uses the bank's registers.
    """

    def __init__(self, bank: CsrBank | None = None, *, external_time: bool = False):
        self._bank = bank
        self.external_time = external_time
        ports = {"i_frame": In(stream.Signature(FrameBeat, always_ready=True)),
                 "o_event": Out(stream.Signature(FeedEvent, always_ready=True)),
                 "o_payload": Out(stream.Signature(PayloadBeat, always_ready=True)),
                 "stale": Out(1),
                 "stale_index": Out(48),
                 "stale_cycle": Out(64),
                 "next_index": Out(48),
                 "now": Out(64)}
        if external_time:
            ports["time"] = In(64)
        if bank is None:
            ports["csr"] = In(CsrBus(ADDR_WIDTH))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        bank = own_or_shared_bank(m, self, self._bank, REGMAP, ADDR_WIDTH)
        m.submodules.net = net = netfilter.NetFilter()
        m.submodules.mold = mold = moldudp64.MoldUDP64()
        m.submodules.decoder = decoder = itch.ItchDecoder()
        wiring.connect(m, mac=wiring.flipped(self.i_frame), filter=net.i_frame)
        wiring.connect(m, filter=net.o_payload, mold=mold.i_payload)
        wiring.connect(m, mold=mold.o_message, decoder=decoder.i_message)
        wiring.connect(m, decoder=decoder.o_event, out=wiring.flipped(self.o_event))

        # The monitor tap sees what the MoldUDP64 stage sees.
        m.d.comb += [self.o_payload.valid.eq(net.o_payload.valid),
                     self.o_payload.p.eq(net.o_payload.p)]

        # Ingress timestamps: the cycle a frame's first beat came in, delayed by the filter's
        # 2 cycles so it reaches the MoldUDP64 stage together with that frame's payload.
        cycle = Signal(64)
        if self.external_time:
            m.d.comb += cycle.eq(self.time)
        else:
            m.d.sync += cycle.eq(cycle + 1)
        frame_cycle_r = Signal(64)
        frame_cycle = Mux(self.i_frame.valid & self.i_frame.p.first, cycle, frame_cycle_r)
        delayed = [Signal(64, name=f"frame_cycle_d{i}", reset_less=True) for i in (1, 2)]
        m.d.sync += [frame_cycle_r.eq(frame_cycle),
                     delayed[0].eq(frame_cycle), delayed[1].eq(delayed[0])]

        m.d.comb += [
            mold.ingress_cycle.eq(delayed[1]),
            mold.malformed.eq(decoder.malformed),
            mold.clear_stale.eq(bank.clear["mold_stale"][0]),
            self.stale.eq(mold.stale),
            self.stale_index.eq(mold.stale_index),
            self.stale_cycle.eq(mold.stale_cycle),
            self.next_index.eq(mold.next_index),
            self.now.eq(frame_cycle_r),
            net.dst_ip.eq(bank.rw["net_dst_ip"]),
            net.dst_port.eq(bank.rw["net_dst_port"]),
            bank.ro["ingress_cycle"].eq(cycle),
            bank.ro["mold_stale"].eq(mold.stale),
            bank.ro["mold_session"].eq(mold.status.session),
            bank.ro["mold_session_valid"].eq(mold.status.session_valid),
            bank.ro["mold_expected"].eq(mold.status.expected),
            bank.ro["mold_ended"].eq(mold.status.ended),
        ]
        for prefix, block in (("net", net), ("mold", mold), ("itch", decoder)):
            for name, _ in block.counters.shape():
                m.d.comb += bank.ro[f"{prefix}_{name}"].eq(getattr(block.counters, name))
        return m

"""Host access to the CSR bank: a request/acknowledge port and the arbiter that serialises them.

Data flow: host interfaces (`hw.rtl.uart.UartBridge`, `hw.rtl.axil.AxiLiteSlave`) -> `CsrPort`
-> `CsrArbiter` -> `CsrBus` -> `hw.rtl.csr.CsrBank`. The bank's bus is fire and forget (a strobe,
then read data a fixed number of cycles later); the host interfaces need to know when their
access is done and to share the one bus, which is what the port and the arbiter add.
"""

from amaranth import Array, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.csr import READ_LATENCY, WORD_BITS, CsrBus

#: Cycles from a strobe on the `CsrBus` to its read data (a write has taken effect by then):
#: the pipeline of `hw.rtl.csr.CsrBank`.
BANK_LATENCY = READ_LATENCY

#: Initiators an arbiter serves: a handful of host interfaces, never a fabric.
MAX_INITIATORS = 8


class CsrPort(wiring.Signature):
    """One CSR access at a time, with an acknowledge (initiator view).

    The initiator raises `valid` with `addr` (word address), `write` and `w_data`, and holds them
    until a cycle where `ack` is 1. `ack` is a one-cycle pulse; for a read, `r_data` is valid in
    that cycle only. The access is complete at that clock edge: the initiator may present its
    next access in the following cycle (or keep `valid` high with new values).
    """

    def __init__(self, addr_width: int):
        if not isinstance(addr_width, int) or not 1 <= addr_width <= 32:
            raise TypeError(f"addr_width must be 1..32, not {addr_width!r}")
        self.addr_width = addr_width
        super().__init__({
            "valid": Out(1), "addr": Out(addr_width), "write": Out(1), "w_data": Out(WORD_BITS),
            "ack": In(1), "r_data": In(WORD_BITS),
        })


class CsrArbiter(wiring.Component):
    """Serves `initiators` CsrPorts on one CsrBus, one access at a time, round robin.

    Latency: with the bus idle, `ack` comes `BANK_LATENCY + 1` = 5 cycles after the cycle `valid`
    rises (one cycle to arbitrate and register the strobe, then the bank's latency); `r_data` is
    the bank's, passed through in the `ack` cycle.
    Rate: one access per 5 cycles (the arbiter returns to idle after the `ack`, and the port
    protocol lets the initiator change its request only after the `ack` edge).
    Backpressure: an initiator waits, `valid` high, until its `ack`. Among initiators with
    `valid`, the grant goes to the first after the one served last (port 0 first after reset),
    so each waits at most `initiators - 1` accesses of the others: none starves.
    Reset: idle, no strobe on the bus, port 0 has first claim.
    Bad input: none is possible on the ports; an access to an unmapped or read-only word is the
    bank's to ignore (it reads 0, and it counts the write in `csr_bad_writes`).
    """

    def __init__(self, initiators: int, addr_width: int):
        if not isinstance(initiators, int) or not 1 <= initiators <= MAX_INITIATORS:
            raise TypeError(f"initiators must be 1..{MAX_INITIATORS}, not {initiators!r}")
        if not isinstance(addr_width, int) or not 1 <= addr_width <= 32:
            raise TypeError(f"addr_width must be 1..32, not {addr_width!r}")
        self.initiators = initiators
        self.addr_width = addr_width
        super().__init__({
            "ports": In(CsrPort(addr_width)).array(initiators),
            "bus": Out(CsrBus(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.initiators
        granted = Signal(range(n))            # the port being served
        last = Signal(range(n), init=n - 1)   # the port served last: it has last claim next
        countdown = Signal(range(BANK_LATENCY + 1))

        # Combinational: the round-robin choice, in the order last+1, last+2, ..., last.
        any_valid = Cat(port.valid for port in self.ports).any()
        choice = Signal(range(n))
        with m.Switch(last):
            for previous in range(n):
                with m.Case(previous):
                    order = [(previous + k) % n for k in range(1, n + 1)]
                    with m.If(self.ports[order[0]].valid):
                        m.d.comb += choice.eq(order[0])
                    for index in order[1:]:
                        with m.Elif(self.ports[index].valid):
                            m.d.comb += choice.eq(index)
        chosen = Array(self.ports)[choice]
        for port in self.ports:
            m.d.comb += port.r_data.eq(self.bus.r_data)

        # Strobes last one cycle; the address and data are held until the next access.
        m.d.sync += [self.bus.w_stb.eq(0), self.bus.r_stb.eq(0)]
        with m.FSM():
            with m.State("IDLE"), m.If(any_valid):
                m.d.sync += [
                    granted.eq(choice), last.eq(choice),
                    self.bus.addr.eq(chosen.addr), self.bus.w_data.eq(chosen.w_data),
                    self.bus.w_stb.eq(chosen.write), self.bus.r_stb.eq(~chosen.write),
                    countdown.eq(BANK_LATENCY),
                ]
                m.next = "WAIT"
            with m.State("WAIT"):
                # The strobe is on the bus in the first WAIT cycle; the bank answers (and the
                # write has taken effect) BANK_LATENCY cycles later.
                m.d.sync += countdown.eq(countdown - 1)
                with m.If(countdown == 0):
                    for index, port in enumerate(self.ports):
                        m.d.comb += port.ack.eq(granted == index)
                    m.next = "IDLE"
        return m

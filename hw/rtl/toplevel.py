"""The ports a component offers when it is the top of a design (Verilog for Verilator, RTLIL for
yosys, nextpnr and the formal tools).

A stream that never applies backpressure says so in its signature (`always_ready=True`), so
that `wiring.connect` refuses to join it to a consumer that could stall it; its `ready` member
is then the constant 1, not a signal. Amaranth 0.5 derives a component's top-level ports from
its signature and refuses constants, so every converter in the project names the ports this
way: every signal of the signature, the constants left out (a constant needs no pin).
"""

from amaranth.hdl import Signal, Value, ValueCastable
from amaranth.lib import wiring


def top_ports(component: wiring.Component) -> list[Signal]:
    """The signals of `component`'s signature, named by their path (`i_frame__valid`)."""
    ports = []
    for _, _, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        value = Value.cast(value)
        if isinstance(value, Signal):
            ports.append(value)
    return ports

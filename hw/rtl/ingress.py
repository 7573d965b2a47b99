"""The ingress of the NIC: frames from the MAC in, UDP payload of the feed out, behind a CSR bus.

Today it holds the network filter and the register bank that configures it and exposes its
counters; the MoldUDP64 and ITCH stages join here next. `REGMAP` is the ingress register map, the
one source of addresses for the drivers and the docs (`nerve regmap` exports it).
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl import netfilter
from hw.rtl.csr import CsrBank, CsrBus, RegisterMap
from hw.rtl.records import FrameBeat, PayloadBeat

REGMAP = RegisterMap([("net", netfilter.REGISTERS)])
ADDR_WIDTH = 16


class Ingress(wiring.Component):
    """MAC frames -> network filter -> UDP payload; registers on `csr`.

    Rate and latency: the network filter's (one beat per clock, 2 cycles). Reset: the filter's
    destination is 0.0.0.0:0, so nothing passes until the host writes `net_dst_ip`/`net_dst_port`.
    """

    i_frame: In(stream.Signature(FrameBeat))
    o_payload: Out(stream.Signature(PayloadBeat))
    csr: In(CsrBus(ADDR_WIDTH))

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = CsrBank(REGMAP, ADDR_WIDTH)
        m.submodules.net = net = netfilter.NetFilter()
        wiring.connect(m, wiring.flipped(self.csr), bank.bus)
        wiring.connect(m, wiring.flipped(self.i_frame), net.i_frame)
        wiring.connect(m, net.o_payload, wiring.flipped(self.o_payload))
        m.d.comb += [net.dst_ip.eq(bank.rw["net_dst_ip"]),
                     net.dst_port.eq(bank.rw["net_dst_port"])]
        for name, _ in netfilter.NetFilterCounters:
            m.d.comb += bank.ro[f"net_{name}"].eq(getattr(net.counters, name))
        return m

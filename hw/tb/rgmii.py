"""The MAC's integration-test design: RGMII pins -> `RgmiiSim` -> `MacRx` -> ports, and
ports -> `MacTx` -> `RgmiiSim` -> RGMII pins, for cocotb + Verilator (tests/hw/test_rgmii_mac.py)
against a third-party RGMII model.

Clock domains (ports of the exported Verilog, driven by the testbench): `eth_rx` (the PHY's
receive clock: MacRx, the receive DDR registers), `eth_tx` (MacTx, the transmit DDR registers)
and `eth_tx90` (the same frequency 90 degrees after `eth_tx`: the transmit clock pin).
"""

from amaranth import DomainRenamer, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.rtl.mac_rx import MacRx
from hw.rtl.mac_tx import MacTx
from hw.rtl.records import MacByte, RxVerdict
from hw.rtl.rgmii import RgmiiSim

RX_DOMAIN, TX_DOMAIN, TX90_DOMAIN = "eth_rx", "eth_tx", "eth_tx90"


class RgmiiMac(wiring.Component):
    """RGMII pins on one side; the received bytes, verdicts and the transmit stream on the
    other. Latencies are those of the parts (RgmiiSim, MacRx, MacTx) added up; no buffering.
    """

    rgmii_rx_data: In(4)
    rgmii_rx_ctl: In(1)
    rgmii_tx_data: Out(4)
    rgmii_tx_ctl: Out(1)
    rgmii_tx_clk: Out(1)
    o_byte: Out(stream.Signature(MacByte, always_ready=True))
    o_verdict: Out(RxVerdict)
    o_fragment: Out(1)
    i_byte: In(stream.Signature(MacByte))
    underrun: Out(1)

    def elaborate(self, platform):
        m = Module()

        m.submodules.phy = phy = RgmiiSim(rx_domain=RX_DOMAIN, tx_domain=TX_DOMAIN,
                                          tx90_domain=TX90_DOMAIN)
        m.submodules.rx = rx = DomainRenamer(RX_DOMAIN)(MacRx())
        m.submodules.tx = tx = DomainRenamer(TX_DOMAIN)(MacTx())

        wiring.connect(m, wiring.flipped(self.i_byte), tx.i_byte)

        m.d.comb += [
            phy.rgmii_rx_data.eq(self.rgmii_rx_data),
            phy.rgmii_rx_ctl.eq(self.rgmii_rx_ctl),
            self.rgmii_tx_data.eq(phy.rgmii_tx_data),
            self.rgmii_tx_ctl.eq(phy.rgmii_tx_ctl),
            self.rgmii_tx_clk.eq(phy.rgmii_tx_clk),
            rx.rx_data.eq(phy.rx_data),
            rx.rx_dv.eq(phy.rx_dv),
            rx.rx_er.eq(phy.rx_er),
            phy.tx_data.eq(tx.tx_data),
            phy.tx_en.eq(tx.tx_en),
            phy.tx_er.eq(tx.tx_er),
            self.o_byte.valid.eq(rx.o_byte.valid),
            self.o_byte.p.eq(rx.o_byte.p),
            self.o_verdict.eq(rx.o_verdict),
            self.o_fragment.eq(rx.o_fragment),
            self.underrun.eq(tx.underrun),
        ]
        return m

# amaranth: UnusedElaboratable=no
# (the argument checks build components only to see them refused)

"""The MAC behind RGMII, integration tier: cocotb + Verilator against cocotbext-eth's RGMII
source and sink (tests/hw/cocotb_rgmii_mac.py). Built once per run, cached until the Verilog
changes. Also: the board variant of the RGMII buffers elaborates for the ECPIX-5 (ECP5)."""

import pytest
from amaranth import ClockDomain, Elaboratable, Module

from hw.rtl.rgmii import RgmiiBoard, RgmiiSim
from hw.tb import sim
from hw.tb.rgmii import RX_DOMAIN, TX90_DOMAIN, TX_DOMAIN, RgmiiMac


@pytest.fixture(scope="session")
def rgmii_mac_build():
    return sim.build("rgmii_mac", RgmiiMac)


@pytest.mark.parametrize("testcase", [
    "receive_good_frames_back_to_back",
    "receive_bad_frames",
    "transmit_frames_back_to_back",
    "transmit_aborts_are_not_taken",
])
def test_rgmii_mac_rtl(rgmii_mac_build, testcase):
    rgmii_mac_build.run("tests.hw.cocotb_rgmii_mac", testcase=testcase)


class _BoardTop(Elaboratable):
    """RgmiiBoard on the ECPIX-5's PHY pins, with the three domains it expects."""

    def elaborate(self, platform):
        m = Module()
        m.domains += [ClockDomain(RX_DOMAIN), ClockDomain(TX_DOMAIN), ClockDomain(TX90_DOMAIN)]
        m.submodules.rgmii = rgmii = RgmiiBoard(platform.request("eth_rgmii", 0, dir="-"))
        # Something must use the GMII side, or the receive buffers would be cut away.
        m.d[TX_DOMAIN] += [rgmii.tx_data.eq(rgmii.rx_data), rgmii.tx_en.eq(rgmii.rx_dv),
                           rgmii.tx_er.eq(rgmii.rx_er)]
        return m


def test_the_board_variant_elaborates_with_ecp5_ddr_primitives():
    """No toolchain run: the platform's netlist (RTLIL) must hold one IDDRX1F per receive pin
    (4 data + ctl) and one ODDRX1F per transmit pin (4 data + ctl + clock)."""
    from amaranth_boards.ecpix5 import ECPIX585Platform

    plan = ECPIX585Platform().prepare(_BoardTop(), name="rgmii_board")
    rtlil = plan.files["rgmii_board.il"]
    assert rtlil.count("IDDRX1F") == 5
    assert rtlil.count("ODDRX1F") == 6
    assert "eth_tx90" in rtlil


def test_domains_are_checked():
    with pytest.raises(ValueError, match="must differ"):
        RgmiiSim(rx_domain="a", tx_domain="a", tx90_domain="b")
    with pytest.raises(TypeError, match="tx90_domain must be a non-empty domain name"):
        RgmiiSim(tx90_domain="")
    with pytest.raises(TypeError, match="no rx_data subsignal"):
        RgmiiBoard(object())

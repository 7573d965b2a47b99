"""The board's design in simulation: RGMII pins -> `RgmiiSim` -> `EthernetCard` -> `RgmiiSim`
-> RGMII pins, for cocotb + Verilator (tests/hw/test_ethernet_card.py).

It is the board top (bitstreams/boards.py) without what only a board has: the PLL, the DDR I/O
primitives (`RgmiiSim` models them with the same timing), the PHY's reset and the lights'
pins. Clock domains, all ports of the exported Verilog and driven by the testbench: `sync`
(the fast path, `clk`), `eth_rx`, `eth_tx` and `eth_tx90` (125 MHz, the last 90 degrees late).
"""

import json
from pathlib import Path

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from bitstreams.boards import by_name
from hw.rtl import hostbus
from hw.rtl.capacity import BOARD, Capacity
from hw.rtl.ethernet_card import EthernetCard
from hw.rtl.nic import ADDR_WIDTH
from hw.rtl.rgmii import RgmiiSim
from hw.tb import sim

#: The board whose design this is: its fast path's clock and time step come from its entry.
BOARD_NAME = "ecpix5-85"
_PLAN = by_name(BOARD_NAME).pll()
FAST_HZ = float(_PLAN.fast_hz)
TIME_STEP = _PLAN.time_step


class EthernetCardSim(wiring.Component):
    rgmii_rx_data: In(4)
    rgmii_rx_ctl: In(1)
    rgmii_tx_data: Out(4)
    rgmii_tx_ctl: Out(1)
    rgmii_tx_clk: Out(1)
    csr: In(hostbus.CsrPort(ADDR_WIDTH))
    link: Out(1)
    halted: Out(1)
    stale: Out(1)

    def __init__(self, capacity: Capacity = BOARD):
        self.capacity = capacity
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.phy = phy = RgmiiSim()
        m.submodules.card = card = EthernetCard(fast_hz=FAST_HZ, time_step=TIME_STEP,
                                                capacity=self.capacity)
        wiring.connect(m, host=wiring.flipped(self.csr), card=card.csr)
        m.d.comb += [
            phy.rgmii_rx_data.eq(self.rgmii_rx_data), phy.rgmii_rx_ctl.eq(self.rgmii_rx_ctl),
            self.rgmii_tx_data.eq(phy.rgmii_tx_data), self.rgmii_tx_ctl.eq(phy.rgmii_tx_ctl),
            self.rgmii_tx_clk.eq(phy.rgmii_tx_clk),
            card.rx_data.eq(phy.rx_data), card.rx_dv.eq(phy.rx_dv), card.rx_er.eq(phy.rx_er),
            phy.tx_data.eq(card.tx_data), phy.tx_en.eq(card.tx_en), phy.tx_er.eq(card.tx_er),
            self.link.eq(card.link), self.halted.eq(card.halted), self.stale.eq(card.stale),
        ]
        return m


def build(capacity: Capacity = BOARD) -> sim.SimBuild:
    """The Verilator build of the board's design (once per RTL change)."""
    boards = Path(__file__).resolve().parents[2] / "bitstreams"
    return sim.build(f"ethernet_card_{capacity.name}", lambda: EthernetCardSim(capacity),
                     sources=[*sim.rtl_sources(), Path(__file__), boards / "boards.py",
                              boards / "pll.py"], key=capacity.name)


def prepare_run(root: Path, *, messages: int = 500, seed: int = 9) -> dict:
    """A synthetic feed in `root`, the golden model's outputs for it (root/model) and the
    host's plan for the card (root/rtl), for tests/hw/cocotb_ethernet_card.py; returns the
    model's summary. The limits refuse nothing: the rate limit is the only check that reads
    the clock, and the card's clock free-runs in that test while the model stamps each packet
    with its feed time."""
    from hw.tb.replay import prepare
    from hw.tb.tick_to_trade import PERMISSIVE
    from sw.cli.main import main
    from sw.model.config import load_limits

    feed = root / "feed.itch"
    if main(["gen", "--symbols", "4", "--messages", str(messages), "--seed", str(seed),
             "--out", str(feed)]) != 0:
        raise RuntimeError("nerve gen failed")
    (root / "limits.json").write_text(json.dumps({"defaults": PERMISSIVE}))
    if main(["replay", "--backend", "model", "--feed", str(feed), "--out", str(root / "model"),
             "--limits", str(root / "limits.json")]) != 0:
        raise RuntimeError("nerve replay failed")
    prepare(feed, root / "rtl", limits=load_limits({"defaults": PERMISSIVE}))
    return json.loads((root / "model" / "summary.json").read_text())


def run(card: sim.SimBuild, root: Path, testcase: str) -> None:
    """One case of tests/hw/cocotb_ethernet_card.py on the prepared `root`."""
    card.run("tests.hw.cocotb_ethernet_card", testcase=testcase,
             env={"NERVE_BOARD_WORK": str(root)})

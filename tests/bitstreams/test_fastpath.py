"""The whole-path report (bitstreams/fastpath.py): nanoseconds only from a routed clock, the
nextpnr summary kept beside the JSON, and the table read back from the committed reports."""

import json

import numpy as np
import pytest

from bitstreams import fastpath
from hw.tb.tick_to_trade import summary


def result(capacity="board", routed=True, fmax=62.5):
    return {"capacity": capacity, "slots": 8, "book_orders": 2048, "levels": 64,
            "order_chains": 128, "routed": routed, "fmax_mhz": fmax if routed else None,
            "placed_estimate_mhz": 70.0, "seed": 1, "synthesis_s": 120, "minutes": 30.5,
            "utilisation": {"TRELLIS_COMB": 40000, "DP16KD": 50}, "critical_path": None,
            "log": ["Info: Max frequency for clock 'clk': 62.50 MHz (FAIL at 156.25 MHz)"]}


@pytest.fixture
def reports(tmp_path, monkeypatch):
    monkeypatch.setattr(fastpath, "REPORTS", tmp_path)
    return tmp_path


def test_a_routed_report_gives_tick_to_trade_in_ns_at_the_routed_clock(reports, capsys):
    cycles = summary(np.array([20, 20, 20, 21, 76]))
    path = fastpath.write_report(result(), cycles)
    report = json.loads(path.read_text())
    assert path.name == "fastpath-board.json"
    assert report["routed"] and report["fmax_mhz"] == 62.5
    assert report["tick_to_trade_median_cycles"] == 20
    assert report["tick_to_trade_median_ns"] == 320.0          # 20 cycles x 16 ns
    assert report["tick_to_trade_max_ns"] == 1216.0
    assert "log" not in report
    assert (reports / "fastpath-board.log").read_text().startswith("Info: Max frequency")
    assert fastpath.table() == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:5] == ["board", "8", "2,048", "64", "62.5"] and row[6:8] == ["20", "320.0"]


def test_an_unrouted_run_has_no_nanoseconds(reports, capsys):
    report = json.loads(fastpath.write_report(result(routed=False),
                                              summary(np.array([20]))).read_text())
    assert not report["routed"] and report["fmax_mhz"] is None
    assert report["tick_to_trade_median_ns"] is None
    fastpath.table()
    assert capsys.readouterr().out.splitlines()[1].split()[4] == "no"


def test_no_reports_is_said(reports, capsys):
    assert fastpath.table() == 1
    assert "no whole-path reports yet" in capsys.readouterr().err


def test_a_stopped_run_takes_its_utilisation_and_estimate_from_the_log(tmp_path):
    from bitstreams import fmax

    log = tmp_path / "nextpnr.log"
    log.write_text("Info: Device utilisation:\n"
                   "Info: \t              DP16KD:      53/    208    25%\n"
                   "Info: \t          TRELLIS_FF:   25263/  83640    30%\n"
                   "Info: \t        TRELLIS_COMB:   40926/  83640    48%\n"
                   "Info: \t                DCUA:       0/      2     0%\n"
                   "Info: Max frequency for clock '$glbnet$clk': 49.87 MHz (FAIL at 156.25 MHz)\n")
    assert fmax.logged_utilisation(log) == {"DP16KD": 53, "TRELLIS_FF": 25263,
                                            "TRELLIS_COMB": 40926}
    assert fmax.placed_estimate(log) == 49.87

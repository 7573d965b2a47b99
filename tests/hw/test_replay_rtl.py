"""`nerve replay --backend rtl`: the simulated market-data RTL writes the model's bbo.csv.

Whole feeds go frame by frame through ingress + book builder under Verilator (one build per
run), and bbo.csv must equal the golden model's byte for byte: a MoldUDP64 pcap with tens of
symbols, thousands of live orders, dropped and repeated packets; and a NASDAQ file.
"""

import json

import pytest

from sw.cli.main import main


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("feeds")
    pcap, nasdaq = root / "feed.pcap", root / "feed.itch"
    assert main(["gen", "--symbols", "30", "--messages", "20000", "--seed", "5", "--gaps", "3",
                 "--duplicates", "3", "--out", str(pcap)]) == 0
    assert main(["gen", "--symbols", "12", "--messages", "4000", "--seed", "9",
                 "--out", str(nasdaq)]) == 0
    return {"pcap": pcap, "itch": nasdaq}


@pytest.mark.parametrize("kind", ["pcap", "itch"])
def test_rtl_bbo_is_the_models_byte_for_byte(feeds, kind, tmp_path):
    model, rtl = tmp_path / "model", tmp_path / "rtl"
    assert main(["replay", "--feed", str(feeds[kind]), "--out", str(model)]) == 0
    assert main(["replay", "--backend", "rtl", "--feed", str(feeds[kind]),
                 "--out", str(rtl)]) == 0
    summary = json.loads((rtl / "summary.json").read_text())
    assert summary["unreliable_slots"] == []
    model_rows = (model / "bbo.csv").read_bytes()
    assert model_rows.count(b"\n") > (2000 if kind == "pcap" else 300)
    assert (rtl / "bbo.csv").read_bytes() == model_rows
    model_summary = json.loads((model / "summary.json").read_text())
    assert summary["messages"] == model_summary["messages"]
    if kind == "pcap":
        assert summary["registers"]["mold_gaps"] == model_summary["gaps"] == 3


def test_rtl_backend_refuses_what_it_cannot_do_yet(tmp_path, capsys):
    limits = tmp_path / "limits.json"
    limits.write_text("{}")
    assert main(["replay", "--backend", "rtl", "--feed", str(tmp_path / "x.pcap"),
                 "--limits", str(limits), "--out", str(tmp_path / "out")]) == 2
    assert "--limits not accepted with --backend rtl" in capsys.readouterr().err

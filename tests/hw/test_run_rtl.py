"""`nerve run --backend rtl`: the whole loop (FIX session, venue, OMS, TCA, feedback) with the
card's RTL under Verilator, against the same run with the golden model as the card.

The card's egress bytes go over the FIX session unchanged, so equal fills and positions mean the
RTL sent the model's orders byte for byte, at the same feed times, and took the same positions
back into its registers. The card build is the one every whole-card test shares."""

from __future__ import annotations

import json

import pytest

from sw.cli.main import main
from sw.feed.generator import MarketConfig, PcapOptions, generate

pytestmark = pytest.mark.xdist_group("simulated_card")


def test_the_loop_on_the_rtl_card_equals_the_loop_on_the_model(tmp_path):
    feed = tmp_path / "feed.pcap"
    generate(MarketConfig(symbols=3, messages=1_500, seed=5, rate=20_000.0), feed,
             pcap=PcapOptions())
    out = {}
    for backend in ("model", "rtl"):
        out[backend] = tmp_path / backend
        assert main(["run", "--backend", backend, "--feed", str(feed), "--out",
                     str(out[backend]), "--limits", "docs/examples/limits.json",
                     "--strategy", "docs/examples/strategy.json", "--cadence-ms", "20"]) == 0
    model = json.loads((out["model"] / "summary.json").read_text())
    rtl = json.loads((out["rtl"] / "summary.json").read_text())
    assert (rtl["backend"], model["backend"]) == ("rtl", "model")
    assert model["orders_sent"] > 10 and model["fills"] > 0
    for name in ("orders_sent", "gate_rejects", "reports", "fills"):
        assert rtl[name] == model[name], name
    for name in ("fills.csv", "positions.csv"):
        assert (out["rtl"] / name).read_bytes() == (out["model"] / name).read_bytes(), name
    assert rtl["exposure_leak"] is False
    # The RTL measures its own tick-to-trade from its cycle stamps; the model has no pipeline.
    latency = json.loads((out["rtl"] / "tca.json").read_text())["latency"]
    assert latency["tick_to_trade_cycles"]["min"] >= 20

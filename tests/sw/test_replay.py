"""`nerve gen` and `nerve replay` end to end: files, headers, cross-checks and bad input."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sw.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
BBO_HEADER = "msg_index,locate,symbol,bid_px,bid_qty,ask_px,ask_qty"
ORDERS_HEADER_START = "msg_index,msg_type,clordid,symbol,side,price,qty"
REJECTS_HEADER_START = "msg_index,symbol,side,price,qty,reason"


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    d = tmp_path_factory.mktemp("feeds")
    args = ["--symbols", "12", "--messages", "20000", "--seed", "5"]
    assert main(["gen", *args, "--out", str(d / "clean.itch")]) == 0
    assert main(["gen", *args, "--out", str(d / "clean.pcap")]) == 0
    assert main(["gen", *args, "--gaps", "3", "--duplicates", "2",
                 "--out", str(d / "faulty.pcap")]) == 0
    return d


def replay(feed, out, *extra):
    return main(["replay", "--feed", str(feed), "--out", str(out), *extra])


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_replay_writes_the_four_outputs_with_their_headers(feeds, tmp_path, capsys):
    assert replay(feeds / "clean.itch", tmp_path) == 0
    assert (tmp_path / "bbo.csv").read_text().splitlines()[0] == BBO_HEADER
    assert (tmp_path / "orders.csv").read_text().startswith(ORDERS_HEADER_START)
    assert (tmp_path / "rejects.csv").read_text().startswith(REJECTS_HEADER_START)
    summary = json.loads((tmp_path / "summary.json").read_text())
    out = capsys.readouterr().out
    assert f"replayed {summary['messages']:,} ITCH messages" in out
    assert f"BBO updates: {summary['bbo_updates']:,}" in out
    assert summary["messages"] == 20_000
    assert summary["orders"] == len(rows(tmp_path / "orders.csv")) > 0
    assert summary["bbo_updates"] == len(rows(tmp_path / "bbo.csv")) > 0


def test_bbo_rows_are_changes_and_symbols_are_unpadded(feeds, tmp_path):
    replay(feeds / "clean.itch", tmp_path)
    last = {}
    for row in rows(tmp_path / "bbo.csv"):
        key = row["locate"]
        quad = (row["bid_px"], row["bid_qty"], row["ask_px"], row["ask_qty"])
        assert last.get(key) != quad, "a row must change the BBO"
        last[key] = quad
        assert row["symbol"] == row["symbol"].strip() and row["symbol"]
        if row["bid_px"] == "0":
            assert row["bid_qty"] == "0"


def test_pcap_and_nasdaq_file_give_the_same_book(feeds, tmp_path):
    """The network filter + sequencer path delivers exactly what the NASDAQ file holds."""
    replay(feeds / "clean.itch", tmp_path / "a")
    replay(feeds / "clean.pcap", tmp_path / "b")
    assert (tmp_path / "a" / "bbo.csv").read_bytes() == (tmp_path / "b" / "bbo.csv").read_bytes()


def test_replay_is_deterministic(feeds, tmp_path):
    for name in ("a", "b"):
        replay(feeds / "faulty.pcap", tmp_path / name)
    for f in ("bbo.csv", "orders.csv", "rejects.csv", "orders.fix"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_faulty_feed_reports_gaps_and_stops_trading(feeds, tmp_path, capsys):
    replay(feeds / "faulty.pcap", tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["gaps"] >= 1 and summary["sequencer"]["duplicate_packets"] == 2
    assert "gaps" in capsys.readouterr().out
    orders = rows(tmp_path / "orders.csv")
    first_stale = next(i for i, o in enumerate(orders) if o["cause"] == "feed_stale")
    # after the gap, only the cancels of the stale event: nothing new is ever sent
    assert all(o["cause"] == "feed_stale" and o["msg_type"] == "F" for o in orders[first_stale:])


def test_orders_csv_matches_the_fix_bytes(feeds, tmp_path):
    from sw.fix.dictionary import split_messages, validate

    replay(feeds / "clean.itch", tmp_path)
    messages = split_messages((tmp_path / "orders.fix").read_bytes())
    orders = rows(tmp_path / "orders.csv")
    assert len(messages) == len(orders) > 0
    for raw, row in zip(messages, orders, strict=True):
        validate(raw)
        fields = dict(f.split(b"=", 1) for f in raw.rstrip(b"\x01").split(b"\x01"))
        assert fields[b"35"].decode() == row["msg_type"]
        assert fields[b"11"].decode() == row["clordid"]
        assert fields[b"55"].decode() == row["symbol"]
        assert int(fields[b"34"]) == int(row["seq"])
        assert int(fields[b"38"]) == int(row["qty"])
        assert fields[b"54"] == {"B": b"1", "S": b"2"}[row["side"]]
        if row["msg_type"] != "F":
            assert round(float(fields[b"44"]) * 10_000) == int(row["price"])
        assert fields.get(b"41", b"").decode() == row["orig_clordid"]


def test_control_file_drives_the_kill_switch(feeds, tmp_path):
    control = tmp_path / "control.json"
    control.write_text(json.dumps([{"before_msg": 8000, "action": "halt"},
                                   {"before_msg": 12000, "action": "release"}]))
    assert replay(feeds / "clean.itch", tmp_path / "out", "--control", str(control)) == 0
    orders = rows(tmp_path / "out" / "orders.csv")
    kills = [o for o in orders if o["cause"] == "kill_switch"]
    assert kills and all(o["msg_type"] == "F" and o["msg_index"] == "8000" for o in kills)
    during = [o for o in orders if 8000 <= int(o["msg_index"]) < 12000]
    assert during == kills
    assert any(int(o["msg_index"]) >= 12000 and o["msg_type"] == "D" for o in orders)


def test_limits_and_strategy_files_are_applied(feeds, tmp_path):
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"halted": False, "defaults": {"max_order_qty": 50}}))
    assert replay(feeds / "clean.itch", tmp_path / "out", "--limits", str(limits)) == 0
    rejects = rows(tmp_path / "out" / "rejects.csv")
    assert rejects and {r["reason"] for r in rejects} == {"QTY_EXCEEDS_MAX"}
    assert rows(tmp_path / "out" / "orders.csv") == []


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "empty"),
    (b"\x00\x24A" + b"\x00" * 10, "byte offset 0"),                # length runs past the end
    (b"\x00\x0cS" + b"\x00" * 11 + b"\x00", "byte offset 14"),     # truncated length prefix
    (bytes.fromhex("a1b23c4d") + b"\x00" * 10, "byte offset 0"),   # pcap header cut short
])
def test_unreadable_feed_is_a_one_line_error(tmp_path, capsys, content, needle):
    feed = tmp_path / "bad.itch"
    feed.write_bytes(content)
    assert replay(feed, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists(), "nothing is written for an unreadable feed"


def test_truncated_pcap_names_the_record_offset(feeds, tmp_path, capsys):
    data = (feeds / "clean.pcap").read_bytes()
    (tmp_path / "cut.pcap").write_bytes(data[:-7])
    assert replay(tmp_path / "cut.pcap", tmp_path / "out") == 2
    assert "truncated pcap record" in capsys.readouterr().err


def test_bad_limits_file_names_the_key(feeds, tmp_path, capsys):
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"defaults": {"collar_bps": -1}}))
    assert replay(feeds / "clean.itch", tmp_path / "out", "--limits", str(limits)) == 2
    assert "defaults.collar_bps" in capsys.readouterr().err


def test_bad_control_file_names_the_entry(feeds, tmp_path, capsys):
    control = tmp_path / "control.json"
    control.write_text(json.dumps([{"before_msg": 5, "action": "explode"}]))
    assert replay(feeds / "clean.itch", tmp_path / "out", "--control", str(control)) == 2
    assert "control file" in capsys.readouterr().err


def test_clordid_prefix_is_the_one_given(feeds, tmp_path, capsys):
    replay(feeds / "clean.itch", tmp_path, "--clordid-prefix", "QX7")
    orders = rows(tmp_path / "orders.csv")
    assert orders and all(o["clordid"].startswith("QX7") and len(o["clordid"]) == 11
                          for o in orders)
    assert b"\x0111=QX7" in (tmp_path / "orders.fix").read_bytes()
    assert replay(feeds / "clean.itch", tmp_path / "bad", "--clordid-prefix", "Q-X") == 2
    assert "clordid prefix" in capsys.readouterr().err


def test_gen_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["gen", "--symbols", "0", "--out", str(tmp_path / "x.itch")])
    assert main(["gen", "--symbols", "3", "--messages", "100", "--out",
                 str(tmp_path / "x.csv")]) == 2
    assert ".itch or .pcap" in capsys.readouterr().err
    assert main(["gen", "--symbols", "3", "--late-symbols", "2", "--unnamed-symbols", "2",
                 "--out", str(tmp_path / "x.itch")]) == 2
    assert "late_symbols (2) and unnamed_symbols (2)" in capsys.readouterr().err


def test_console_script_runs_without_traceback(tmp_path):
    """The installed entry point, as a user runs it, on a missing file."""
    result = subprocess.run([sys.executable, "-m", "sw.cli.main", "replay", "--feed",
                             str(tmp_path / "missing.itch"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr


def test_control_file_that_is_not_utf8_is_a_one_line_error(feeds, tmp_path, capsys):
    control = tmp_path / "control.json"
    control.write_bytes(b'[{"before_msg": 1, "action": "halt\xff"}]')
    assert replay(feeds / "clean.itch", tmp_path / "out", "--control", str(control)) == 2
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "Traceback" not in err


def test_one_message_feed_replays(tmp_path):
    from sw.feed import itch

    feed = tmp_path / "one.itch"
    feed.write_bytes(itch.write_file([itch.SystemEvent(0, 0, 5, "O")]))
    assert replay(feed, tmp_path / "out") == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["messages"] == 1

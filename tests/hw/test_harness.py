"""The C++ harness around the card's Verilog (hw/tb/harness.py): the commands the replay relies
on, and clear errors. The replays themselves are tests/hw/test_replay_rtl.py."""

from __future__ import annotations

import pytest

from drivers.device import Device
from hw.rtl.nic import REGMAP
from hw.tb import card, harness
from hw.tb.replay import _FRAME, read_beats

#: Shares the card build (and so the harness build) with the replays' xdist worker.
pytestmark = pytest.mark.xdist_group("replay_rtl_pcap")


@pytest.fixture(scope="module")
def binary():
    return harness.build(card.build())


def frames_file(path, frames):
    with path.open("wb") as f:
        for stamp, frame in frames:
            f.write(_FRAME.pack(len(frame), stamp) + frame)


def test_registers_round_trip_and_commands_answer_with_the_cycle_count(binary, tmp_path):
    frames_file(tmp_path / "frames.bin", [])
    sim = harness.Harness(binary, tmp_path / "frames.bin", tmp_path)
    try:
        card = Device(sim, REGMAP)          # registers by name over the harness's words
        card.write("net_dst_port", 31337)
        assert card.read("net_dst_port") == 31337
        sim.command("idle 0")             # a read answers its value, not the cycle count
        before = sim.cycles
        sim.command("idle 100")
        assert sim.cycles == before + 100
        # A 64-bit register, word by word: the whole value comes back.
        card.write("fix_trade_date", int.from_bytes(b"20261120"))
        assert card.read("fix_trade_date").to_bytes(8) == b"20261120"
    finally:
        assert sim.close() == 0


def test_bad_commands_are_refused_by_name(binary, tmp_path):
    frames_file(tmp_path / "frames.bin", [(10, bytes(60))])
    sim = harness.Harness(binary, tmp_path / "frames.bin", tmp_path)
    try:
        with pytest.raises(harness.HarnessError, match="frames 0 5 of 1"):
            sim.frames(0, 5)
        with pytest.raises(harness.HarnessError, match="unknown command jump"):
            sim.command("jump 3")
        sim.frames(0, 1)          # still serving after a refusal
    finally:
        sim.close()


def test_free_running_time_records_every_beat_at_its_cycle(binary, tmp_path):
    """Back-to-back frames of 60 and 9 bytes: 8 beats and 2, then the inter-frame gap; each
    beat's cycle is recorded in order."""
    frames_file(tmp_path / "frames.bin", [(0, bytes(60)), (0, bytes(9))])
    sim = harness.Harness(binary, tmp_path / "frames.bin", tmp_path)
    try:
        sim.command("time free")
        start = sim.cycles
        sim.frames(0, 2)
        sim.command(f"beats {tmp_path / 'beats.bin'}")
    finally:
        sim.close()
    first, second = read_beats(tmp_path)
    assert first == list(range(start + 1, start + 9))
    assert second == [start + 11, start + 12]     # after IDLE_BETWEEN_FRAMES (2) idle cycles


def test_a_stopped_harness_is_reported(binary, tmp_path):
    frames_file(tmp_path / "frames.bin", [])
    sim = harness.Harness(binary, tmp_path / "frames.bin", tmp_path)
    sim.close()
    with pytest.raises(harness.HarnessError, match="stopped"):
        sim.command("idle 1")

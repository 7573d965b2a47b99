"""`nerve flash`: a clear error and a non-zero exit without a bitstream, without the tool, and
without a board; the command it runs for each board."""

import os
import shutil
import stat
from pathlib import Path

import pytest

from bitstreams import flash
from bitstreams.boards import BOARDS, by_name
from sw.cli.main import main

ECPIX5 = by_name("ecpix5-85")


@pytest.fixture
def bitstream(tmp_path):
    path = tmp_path / "top.bit"
    path.write_bytes(b"\xff\x00bitstream")
    return path


def fake_loader(tmp_path: Path, monkeypatch, script: str) -> None:
    """An openFPGALoader on PATH that runs `script` (its own output and exit status)."""
    tool = tmp_path / "bin" / flash.LOADER
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")


def test_without_a_bitstream_it_says_how_to_build_one(tmp_path, capsys):
    assert main(["flash", "--board", "ecpix5-85", "--bitstream", str(tmp_path / "no.bit")]) == 1
    err = capsys.readouterr().err
    assert "no bitstream at" in err and "nerve build --board ecpix5-85" in err


def test_without_the_tool_it_names_the_debian_package(bitstream, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["flash", "--board", "ecpix5-85", "--bitstream", str(bitstream)]) == 1
    assert "openFPGALoader is not installed" in capsys.readouterr().err


def test_without_a_board_it_says_none_was_found(bitstream, tmp_path, monkeypatch, capsys):
    fake_loader(tmp_path, monkeypatch, 'echo "unable to open ftdi device: -3 (device not '
                'found)" >&2\necho "JTAG init failed with: unable to open ftdi device" >&2\n'
                'exit 1')
    assert main(["flash", "--board", "ecpix5-85", "--bitstream", str(bitstream)]) == 1
    err = capsys.readouterr().err
    assert "no LambdaConcept ECPIX-5" in err and "found on USB" in err


@pytest.mark.skipif(shutil.which(flash.LOADER) is None,
                    reason="Debian's openfpgaloader is not installed (make setup installs it)")
def test_the_real_tool_without_a_board_fails_clearly(bitstream, capsys):
    # No FPGA board is attached to a CI machine or a developer's container.
    assert main(["flash", "--board", "ecpix5-85", "--bitstream", str(bitstream)]) == 1
    assert "found on USB" in capsys.readouterr().err


def test_a_dfu_board_without_a_device_says_none_was_found(bitstream, tmp_path, monkeypatch,
                                                          capsys):
    fake_loader(tmp_path, monkeypatch, 'echo "DFU init failed with: No DFU compatible device '
                'found" >&2\nexit 1')
    assert main(["flash", "--board", "butterstick-85", "--bitstream", str(bitstream)]) == 1
    assert "no GsD ButterStick" in capsys.readouterr().err


def test_a_board_found_is_programmed_with_its_cable_and_the_file(bitstream, tmp_path,
                                                                  monkeypatch, capsys):
    fake_loader(tmp_path, monkeypatch, 'echo "args: $*"')
    assert main(["flash", "--board", "ecpix5-85", "--bitstream", str(bitstream)]) == 0
    assert f"args: -b ecpix5 {bitstream}" in capsys.readouterr().out
    assert flash.command(ECPIX5, bitstream, to_flash=True)[-2:] == ["-f", str(bitstream)]
    assert flash.command(by_name("butterstick-85"), bitstream) == [flash.LOADER, "--dfu",
                                                                   str(bitstream)]


def test_an_unknown_board_lists_the_boards(capsys):
    assert main(["flash", "--board", "nope"]) == 2
    assert f"the boards are: {', '.join(sorted(BOARDS))}" in capsys.readouterr().err

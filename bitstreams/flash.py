"""`nerve flash --board NAME`: load a board's bitstream with openFPGALoader.

openFPGALoader is Debian's `openfpgaloader` package (make setup installs it where it may).
By default the bitstream goes to the FPGA's configuration SRAM (lost at power-off); `--flash`
writes the board's SPI flash instead, so the board boots with it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bitstreams.boards import Board

ROOT = Path(__file__).resolve().parent.parent
LOADER = "openFPGALoader"


#: What openFPGALoader says when no board answers: over an FTDI JTAG cable, or in DFU mode.
NO_BOARD = ("unable to open ftdi device", "JTAG init failed", "No DFU compatible device found")


class FlashError(RuntimeError):
    pass


def default_bitstream(board: Board) -> Path:
    return ROOT / "build" / "boards" / f"{board.name}-{board.capacity.name}" / "top.bit"


def command(board: Board, bitstream: Path, *, to_flash: bool = False) -> list[str]:
    return [LOADER, *board.loader, *(["-f"] if to_flash else []), str(bitstream)]


def flash(board: Board, bitstream: Path | None = None, *, to_flash: bool = False) -> None:
    """Program `board`; raises FlashError, saying why, when there is no bitstream, no tool or
    no board."""
    bitstream = bitstream or default_bitstream(board)
    if not bitstream.is_file():
        raise FlashError(f"no bitstream at {bitstream}: build one with "
                         f"`nerve build --board {board.name}`, or name it with --bitstream")
    if shutil.which(LOADER) is None:
        raise FlashError(f"{LOADER} is not installed: it is Debian's openfpgaloader package "
                         f"(`apt-get install openfpgaloader`; make setup installs it as root)")
    argv = command(board, bitstream, to_flash=to_flash)
    print(f"programming the {board.title}: {' '.join(argv)}", flush=True)
    done = subprocess.run(argv, capture_output=True, text=True)
    said = (done.stdout + done.stderr).strip()
    if done.returncode:
        if any(text in said for text in NO_BOARD):
            raise FlashError(f"no {board.title} found on USB (is it plugged in and powered, "
                             f"in its bootloader if it loads by DFU, and may this user open "
                             f"the device?); "
                             f"{LOADER} said: {said.splitlines()[-1] if said else 'nothing'}")
        raise FlashError(f"{LOADER} failed (exit {done.returncode}): {said}")
    print(said)

"""One driver test suite, run over every transport: model, pcie (a file-backed BAR), sim (the
Verilator card over a socket) and uart (the same simulated card, through a pseudo-terminal and
the RTL's UART-to-CSR bridge).

The register-semantics tests need something behind the registers, so they skip the pcie
transport, whose test stand-in is plain memory; its own tests check the bytes at the exported
offsets instead.
"""

from __future__ import annotations

import random

import pytest

from drivers.card import Card, CardError
from drivers.device import Device, DriverError
from drivers.model import ModelTransport
from drivers.pcie import PcieTransport, create_bar_file, word_in_file
from hw.rtl.nic import REGMAP

# The simulated card is one process per test module, shared by the sim and uart transports.
card_group = pytest.mark.xdist_group("simulated_card")
BACKENDS = ["model", "pcie", pytest.param("sim", marks=card_group),
            pytest.param("uart", marks=card_group)]
LIVE = ["model", pytest.param("sim", marks=card_group), pytest.param("uart", marks=card_group)]

#: Read-write registers the tests may scribble on: staged values, which only a commit applies.
SCRATCH = ["risk_limit_max_order_qty", "risk_limit_max_notional", "risk_limit_collar_bps",
           "risk_limit_enabled", "risk_position", "strategy_param_tick",
           "strategy_param_take_sell_at_or_above", "ptp_set_value"]


@pytest.fixture(scope="module")
def sim_card():
    from drivers.sim import SimServer

    server = SimServer(pty=True).start()
    yield server
    server.stop()


def open_backend(kind: str, request, tmp_path) -> Device:
    if kind == "model":
        return Device(ModelTransport(), REGMAP)
    if kind == "pcie":
        bar = create_bar_file(tmp_path / "resource0", REGMAP)
        return Device(PcieTransport(bar, words=REGMAP.words), REGMAP)
    server = request.getfixturevalue("sim_card")
    if kind == "sim":
        from drivers.sim import SimTransport
        return Device(SimTransport.connect(server.address), REGMAP)
    from drivers.uart import UartTransport
    return Device(UartTransport(server.pty_path, timeout=30.0), REGMAP)


@pytest.fixture(params=BACKENDS)
def device(request, tmp_path):
    dev = open_backend(request.param, request, tmp_path)
    yield dev
    dev.close()


@pytest.fixture(params=LIVE)
def live(request, tmp_path):
    dev = open_backend(request.param, request, tmp_path)
    yield dev
    dev.close()


# --- every transport ---------------------------------------------------------------------------

def test_registers_round_trip_by_name_at_every_width(device):
    rng = random.Random(7)
    wrote = {}
    for name in SCRATCH:
        width = REGMAP[name].register.width
        wrote[name] = rng.getrandbits(width)
        device.write(name, wrote[name])
    assert {name: device.read(name) for name in SCRATCH} == wrote
    assert device.read_many(SCRATCH) == wrote


def test_reset_values_of_registers_nothing_writes(device):
    for name in ("book_learn", "fix_sender_len", "fix_target", "event_dma"):
        assert device.read(name) == REGMAP[name].register.reset, name


def test_bulk_writes_apply_in_order_and_batches_mix_reads(device):
    device.write_many([("risk_limit_max_order_qty", 1), ("risk_limit_max_order_qty", 2),
                       ("risk_position", 0xFFFF_FFFE)])
    got = device.batch([("read", "risk_limit_max_order_qty", None),
                        ("write", "risk_limit_max_order_qty", 3),
                        ("read", "risk_limit_max_order_qty", None),
                        ("read", "risk_position", None)])
    assert got == [2, None, 3, 0xFFFF_FFFE]


def test_bad_accesses_are_refused_before_anything_is_sent(device):
    device.write("risk_limit_max_order_qty", 11)
    with pytest.raises(DriverError, match="no register named 'risk_limit_typo'"):
        device.write("risk_limit_typo", 1)
    with pytest.raises(DriverError, match="risk_checked is read-only"):
        device.write("risk_checked", 1)
    with pytest.raises(DriverError, match="does not fit 14 bits"):
        device.write("risk_limit_collar_bps", 1 << 14)
    # One bad value refuses the whole batch: the good write before it is not made either.
    with pytest.raises(DriverError, match="does not fit"):
        device.write_many([("risk_limit_max_order_qty", 12), ("risk_limit_enabled", 2)])
    assert device.read("risk_limit_max_order_qty") == 11


# --- transports with a card behind them ------------------------------------------------------

def test_writes_to_read_only_words_are_ignored_and_counted(live):
    before = live.read("csr_bad_writes")
    checked = live.placed("risk_checked")
    live.transport.write_word(checked.address, 0x1234)
    assert live.read("csr_bad_writes") == before + 1
    assert live.read("risk_checked") != 0x1234


def test_commands_read_as_zero_and_sticky_errors_clear_by_writing_one(live):
    live.write_many([(f"risk_limit_{n}", v) for n, v in (
        ("max_order_qty", 1), ("max_notional", 1), ("collar_bps", 10_001), ("max_long", 0),
        ("max_short", 0), ("max_open_orders", 0), ("order_interval", 1), ("rate_tolerance", 0),
        ("enabled", 1))])
    live.write("risk_commit", 3 | 1 << 8)         # collar out of range: refused whole
    assert live.read("risk_commit_error") == 1
    assert live.read("risk_commit") == 0
    live.write("risk_commit_error", 1)
    assert live.read("risk_commit_error") == 0


def test_ptp_set_beyond_a_day_is_refused_and_the_clock_keeps_counting(live):
    from hw.rtl.nic import DAY_CYCLES

    # Card time passes between accesses (a UART access takes ~10^5 cycles), hence the bounds:
    # far below the refused values, which are a day or more.
    live.write("ptp_set_value", 5_000_000)
    live.write("ptp_set", 1)
    before = live.read("ingress_cycle")
    assert 5_000_000 <= before < 10**10
    for too_late in (DAY_CYCLES + 1, (1 << 64) - 10):
        live.write("ptp_set_value", too_late)
        live.write("ptp_set", 1)
        assert live.read("ptp_refused") == 1
        after = live.read("ingress_cycle")
        assert before <= after < 10**10          # not loaded, still counting
        before = after
        live.write("ptp_refused", 1)
        assert live.read("ptp_refused") == 0
    live.write("ptp_set_value", DAY_CYCLES)          # the last cycle of a day with a leap second
    live.write("ptp_set", 1)
    assert live.read("ptp_refused") == 0
    assert DAY_CYCLES <= live.read("ingress_cycle") < DAY_CYCLES + 10**10


def test_card_commits_limits_and_refuses_bad_ones(live):
    from sw.model.config import SymbolLimits

    card = Card(live, ["AAPL", "MSFT"])
    card.commit_limits(1, SymbolLimits(max_order_qty=77, collar_bps=250), position=-40)
    assert live.read("risk_limit_max_order_qty") == 77
    assert live.read("risk_commit_error") == 0
    with pytest.raises(CardError, match="refused the limits of slot 40"):
        card.commit_limits(40, SymbolLimits())          # no slot 40 on this card


def test_kill_switch_halts_and_release_needs_a_write(live):
    card = Card(live)
    card.halt()
    status = card.status()
    assert status.halted and "kill switch" in status.halt_reasons
    assert live.read("risk_halt") == 1
    card.release()
    assert live.read("risk_halt") == 0
    assert "kill switch" not in card.status().halt_reasons
    card.halt()


# --- pcie: the bytes at the exported offsets -------------------------------------------------

def test_pcie_accesses_are_little_endian_words_at_the_exported_offsets(tmp_path):
    bar = create_bar_file(tmp_path / "resource0", REGMAP)
    device = Device(PcieTransport(bar, words=REGMAP.words), REGMAP)
    device.write("fix_sender", 0x4E45_5256_4500_0000)
    device.write("net_dst_port", 26477)
    device.close()
    sender = REGMAP["fix_sender"].address
    assert word_in_file(bar, sender) == 0x4500_0000
    assert word_in_file(bar, sender + 1) == 0x4E45_5256
    assert word_in_file(bar, REGMAP["net_dst_port"].address) == 26477
    assert (bar.read_bytes()[4 * REGMAP["risk_halt"].address]) == 1     # reset value, byte 0


def test_pcie_refuses_a_bar_smaller_than_the_map_and_unaligned_windows(tmp_path):
    small = tmp_path / "small"
    small.write_bytes(bytes(64))
    with pytest.raises(DriverError, match="has 64 bytes; the register map needs"):
        PcieTransport(small, words=REGMAP.words)
    with pytest.raises(DriverError, match="not a multiple of the page size"):
        PcieTransport(small, words=4, offset=100)
    with pytest.raises(DriverError, match="cannot open BAR"):
        PcieTransport(tmp_path / "missing", words=4)

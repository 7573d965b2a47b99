# amaranth: UnusedElaboratable=no
# (the capacity test builds a top only to read its capacity)

"""Board tops (bitstreams/boards.py, bitstreams/pll.py): each board's clocks come out exact,
its top elaborates against its amaranth-boards platform with the pins and clock constraints
the build needs, and bad settings are refused with a clear message."""

from fractions import Fraction

import pytest

from bitstreams import pll, vccio
from bitstreams.boards import BOARDS, BoardTop, by_name
from hw.rtl.capacity import BOARD


@pytest.mark.parametrize("input_hz, divider, expected", [
    (100_000_000, 16, (4, 5)),    # ECPIX-5's oscillator: PFD 25 MHz
    (30_000_000, 16, (6, 25)),    # ButterStick's: PFD 5 MHz
    (25_000_000, 12, (1, 5)),
])
def test_the_pll_makes_125_mhz_and_the_fast_clock_exactly(input_hz, divider, expected):
    p = pll.plan(input_hz, divider)
    assert (p.input_divider, p.feedback_divider) == expected
    assert Fraction(input_hz, p.input_divider) * p.feedback_divider == 125_000_000
    assert pll.PFD_RANGE_HZ[0] <= input_hz / p.input_divider <= pll.PFD_RANGE_HZ[1]
    assert p.fast_hz == Fraction(625_000_000, divider)
    # The card's time keeps its 6.4 ns unit: time_step steps of 156.25 MHz per fast clock.
    assert p.fast_hz * p.time_step == 156_250_000


@pytest.mark.parametrize("divider", [0, 6, 10, 132])
def test_a_fast_divider_off_the_6_4_ns_grid_is_refused(divider):
    with pytest.raises(ValueError, match=r"fast_divider must be a multiple of 4 in 8\.\.128 "
                                         rf"\(.*\), not {divider}"):
        pll.plan(100_000_000, divider)


def test_an_input_clock_without_an_exact_setting_is_refused():
    with pytest.raises(ValueError, match="no EHXPLLL setting makes 125 MHz exactly from "
                                         "33333333 Hz"):
        pll.plan(33_333_333, 16)


def test_an_unknown_board_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown board 'x'; the boards are: "
                                         r"butterstick-85, ecpix5-85"):
        by_name("x")


@pytest.fixture(scope="module", params=sorted(BOARDS))
def prepared(request):
    board = BOARDS[request.param]
    top = BoardTop(board)
    return board, top, board.platform().prepare(top, name="top")


def test_the_board_top_elaborates_with_its_pins_and_clocks(prepared):
    board, top, plan = prepared
    lpf = plan.files["top.lpf"]
    for pin in ("rx_clk", "rx_data", "tx_clk", "tx_data", "rst"):
        assert f'"eth_rgmii_0__{pin}' in lpf, pin
    uart = f"{board.uart[0]}_{board.uart[1]}"
    assert f'"{uart}__rx__io"' in lpf and f'"{uart}__tx__io"' in lpf
    assert 'FREQUENCY PORT "eth_rgmii_0__rx_clk__io" 125000000.0 HZ' in lpf
    assert f'FREQUENCY NET "pll.fast" {float(top.plan.fast_hz)} HZ' in lpf
    assert top.capacity == board.capacity == BOARD
    rtlil = plan.files["top.il"]
    assert "EHXPLLL" in rtlil
    assert rtlil.count("IDDRX1F") >= 5 and rtlil.count("ODDRX1F") >= 6   # RGMII, both ways
    for light, (resource, number, subsignal, _) in board.lights.items():
        assert f'"{resource}_{number}__{subsignal}__' in lpf, light


def test_the_board_top_takes_another_capacity(prepared):
    board, _, _ = prepared
    from hw.rtl.capacity import MIDDLE
    assert BoardTop(board, MIDDLE).capacity is MIDDLE


def test_the_butterstick_powers_its_uart_bank_before_the_host_needs_it(prepared):
    board, _, plan = prepared
    lpf = plan.files["top.lpf"]
    if board.support is None:       # no supply control: nothing drives a vccio_ctrl resource
        assert "vccio_ctrl" not in lpf
        return
    # SYZYGY A's S0/S1 (G2, J3) carry the UART; the supplies' PWM and enable pins are driven.
    assert 'LOCATE COMP "uart_1__rx__io" SITE "G2"' in lpf
    assert 'LOCATE COMP "uart_1__tx__io" SITE "J3"' in lpf
    assert '"vccio_ctrl_0__pdm__io' in lpf and '"vccio_ctrl_0__en__io' in lpf


@pytest.mark.parametrize("volts, duty", [(3.3, 0.0949), (1.8, 0.6715)])
def test_the_supply_dac_level_for_a_voltage(volts, duty):
    # vctl = 0.6 (1 + 68/53.6) + 68k (0.6/13k) - (68/53.6) V, over the 3.3 V swing.
    assert vccio.control_voltage(volts) / 3.3 == pytest.approx(duty, abs=1e-3)


def test_a_supply_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"VCCIOC must be 1.8-3.3 V, not 1.2"):
        vccio.ButterStickVccio((3.3, 1.8, 1.2), 39e6)


def test_a_build_may_run_the_fast_path_slower():
    top = BoardTop(by_name("ecpix5-85"), fast_divider=20)
    assert (float(top.plan.fast_hz), top.plan.time_step) == (31_250_000.0, 5)

"""The table of bounds (spec/bounds.py) against everything that follows it.

Every key's value just inside and just outside each end of its range goes through the pydantic
models (the files and the API), the model card's commit (drivers/model.py, by the host's own
register writes, drivers/card.py) and the RTL's commit check (hw/rtl/risk.py, hw/rtl/strategy.py
in the Amaranth simulator), and all three agree: a value the host accepts is one the card
accepts, and a value the host refuses is one the card refuses wherever its register can hold it.
docs/limits.md's tables state the same ranges.
"""

import itertools
import re
from decimal import Decimal
from pathlib import Path

import pytest
from amaranth.sim import Simulator
from pydantic import ValidationError

from drivers import open_device
from drivers.card import limits_writes, strategy_writes
from hw.rtl import risk, strategy
from spec.bounds import (
    GATE,
    GATE_LIMITS,
    HOST,
    HOST_LIMITS,
    NEVER,
    STRATEGY,
    STRATEGY_PARAMS,
    Bound,
    gate_values,
    notional_units,
)
from spec.codes import StrategyMode
from spec.itch import PRICE_SCALE
from sw.model.config import Limits, StrategyParams, SymbolLimits
from sw.model.risk import GateLimits

ROOT = Path(__file__).resolve().parents[2]
#: The host's keys that are the gate's registers as they are (the rest convert).
SHARED = [b.name for b in HOST_LIMITS if b.name in GATE]


def below(bound: Bound):
    """The nearest value under the range: a unit less, or for dollars a tenth of the least."""
    return bound.low / 10 if isinstance(bound.low, Decimal) else bound.low - 1


def above(bound: Bound):
    """The nearest value over the range: a unit more (for dollars, one ITCH unit more)."""
    return bound.high + Decimal(1) / PRICE_SCALE if isinstance(bound.high, Decimal) \
        else bound.high + 1


def host_value(bound: Bound, value):
    return float(value) if isinstance(value, Decimal) else value


# --- the table itself -----------------------------------------------------------------------

def test_a_bound_must_fit_its_register():
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        Bound("x", 0, 256, 8)
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        Bound("x", -129, 0, 8)
    with pytest.raises(ValueError, match="low 2 is above high 1"):
        Bound("x", 2, 1)
    assert Bound("x", -128, 127, 8).admits(-128) and not Bound("x", 0, 255, 8).admits(256)


def test_the_rtl_registers_are_the_table():
    assert risk.LIMITS == GATE_LIMITS and strategy.PARAMS == STRATEGY_PARAMS
    assert {name: field.width for name, field in risk.LimitsLayout} == {
        b.name: b.bits for b in GATE_LIMITS}
    assert {name: field.width for name, field in strategy.StrategyParamsLayout} == {
        b.name: b.bits for b in STRATEGY_PARAMS}
    by_name = {r.name: r for r in risk.registers()} | {r.name: r for r in strategy.registers()}
    for b in GATE_LIMITS:
        assert by_name[f"limit_{b.name}"].width == b.bits
    for b in STRATEGY_PARAMS:
        assert by_name[f"param_{b.name}"].width == b.bits


def test_the_strategy_s_arithmetic_holds_over_the_table():
    """hw/rtl/strategy.py's reciprocal is exact for ticks up to 2**20, and its grid distances
    (ticks x tick) fit DISTANCE_BITS: the table's ranges keep both true."""
    assert STRATEGY["tick"].high <= 1 << 20
    widest = max(STRATEGY[n].high for n in ("half_spread_ticks", "skew_ticks", "requote_ticks"))
    assert widest * STRATEGY["tick"].high < 1 << strategy.DISTANCE_BITS
    assert StrategyParams.model_fields["mode"].annotation.__args__ == tuple(
        m.name.lower() for m in (StrategyMode.QUOTE, StrategyMode.TAKE, StrategyMode.OFF))


def test_the_pydantic_bounds_are_the_table():
    def constraints(model, name):
        metadata = model.model_fields[name].metadata
        return (next(c.ge for c in metadata if hasattr(c, "ge")),
                next(c.le for c in metadata if hasattr(c, "le")))

    for b in HOST_LIMITS:
        assert constraints(SymbolLimits, b.name) == (host_value(b, b.low),
                                                     host_value(b, b.high)), b.name
    for b in STRATEGY_PARAMS[1:]:
        assert constraints(StrategyParams, b.name) == (b.low, b.high), b.name


# --- the conversion of the host's limits to the gate's --------------------------------------

def test_the_notional_s_host_bounds_are_the_register_s_in_dollars():
    notional = HOST["max_order_notional"]
    assert notional_units(float(notional.low)) == GATE["max_notional"].low == 1
    assert notional_units(float(notional.high)) == GATE["max_notional"].high
    # the disagreement this table removed: above 0 dollars, yet 0 units, which the card refuses
    assert notional_units(0.00001) == 0 and not GATE["max_notional"].admits(0)


def test_every_corner_of_the_host_s_ranges_converts_into_the_gate_s():
    """Each conversion is monotonic in each key, so the corners bound every value between."""
    for edges in itertools.product(*[(b.low, b.high) for b in HOST_LIMITS]):
        limits = SymbolLimits(**{b.name: host_value(b, v)
                                 for b, v in zip(HOST_LIMITS, edges, strict=True)})
        values = gate_values(limits)
        assert all(GATE[name].admits(value) for name, value in values.items()), values
        assert GateLimits.of(limits).registers() == values


def test_the_rate_s_extremes():
    slowest = gate_values(SymbolLimits(max_orders_per_sec=0, rate_burst=HOST["rate_burst"].high))
    assert slowest["order_interval"] == NEVER
    assert slowest["rate_tolerance"] <= GATE["rate_tolerance"].high
    fastest = gate_values(SymbolLimits(max_orders_per_sec=HOST["max_orders_per_sec"].high))
    assert fastest["order_interval"] == 157 >= GATE["order_interval"].low


# --- every edge through the host, the model card and the RTL --------------------------------

def limit_cases():
    """(key, host value, whether the host accepts it) for each end of each host limit key."""
    for b in HOST_LIMITS:
        for value, inside in ((b.low, True), (b.high, True), (below(b), False),
                              (above(b), False)):
            yield b.name, host_value(b, value), inside


LIMIT_CASES = list(limit_cases())


def staged_limits(key, value) -> dict[str, int]:
    """The register values the host would stage for the default limits with `key` = `value`,
    were the value let through (no validation: what the card alone would make of it)."""
    return gate_values(SymbolLimits.model_construct(**(SymbolLimits().model_dump()
                                                        | {key: value})))


def card_judges(key, value, inside: bool) -> bool:
    """Whether the card can judge a value: every value the host accepts (it must fit the
    registers), and a refused one whose registers can hold what it converts to (a wider value
    never reaches a range check). Not a refused rate: the rate's host bounds are policy,
    narrower than the registers' (1,000,001 orders/s would be an interval of 157 cycles)."""
    if inside:
        return True
    if key not in SHARED and key != "max_order_notional":
        return False
    return all(0 <= v < 1 << GATE[n].bits for n, v in staged_limits(key, value).items())


def pack(layout, values: dict[str, int]) -> int:
    """The bits of a layout's value; a field value its width cannot hold is an error."""
    word = 0
    for name, field in layout:
        value = int(values[name])
        assert 0 <= value < 1 << field.width, f"{name} = {value} does not fit {field.width} bits"
        word |= value << field.offset
    return word


def rtl_risk_commits(cases: list[dict[str, int]]) -> list[bool]:
    """Whether the RTL risk gate accepts each set of staged limits (commit_error stays 0)."""
    dut = risk.RiskGate(slots=2)
    accepted = []

    async def bench(ctx):
        for values in cases:
            ctx.set(dut.staged.as_value(), pack(risk.LimitsLayout, values))
            ctx.set(dut.commit.p.as_value(), pack(risk.CommitLayout,
                                                  {"slot": 0, "limits": 1, "position": 0}))
            ctx.set(dut.commit.valid, 1)
            await ctx.tick()
            ctx.set(dut.commit.valid, 0)
            accepted.append(not ctx.get(dut.commit_error))
            ctx.set(dut.clear_commit_error, 1)
            await ctx.tick()
            ctx.set(dut.clear_commit_error, 0)

    sim = Simulator(dut)
    sim.add_clock(6.4e-9)
    sim.add_testbench(bench)
    sim.run()
    return accepted


def rtl_strategy_commits(cases: list[dict[str, int]]) -> list[bool]:
    """Whether the RTL strategy accepts each set of staged parameters."""
    dut = strategy.Strategy(slots=2)
    accepted = []

    async def bench(ctx):
        for values in cases:
            ctx.set(dut.staged.as_value(), pack(strategy.StrategyParamsLayout, values))
            ctx.set(dut.commit.p.slot, 0)
            ctx.set(dut.commit.valid, 1)
            await ctx.tick()
            ctx.set(dut.commit.valid, 0)
            accepted.append(not ctx.get(dut.commit_error))
            while ctx.get(dut.commit_busy):
                await ctx.tick()
            ctx.set(dut.clear_commit_error, 1)
            await ctx.tick()
            ctx.set(dut.clear_commit_error, 0)

    sim = Simulator(dut)
    sim.add_clock(6.4e-9)
    sim.add_testbench(bench)
    sim.run()
    return accepted


@pytest.fixture(scope="module")
def rtl_limit_verdicts() -> dict[tuple, bool]:
    """The RTL gate's verdict on every limit case it can judge, from one simulation."""
    judged = [(k, v) for k, v, inside in LIMIT_CASES if card_judges(k, v, inside)]
    verdicts = rtl_risk_commits([staged_limits(k, v) for k, v in judged])
    return dict(zip(judged, verdicts, strict=True))


def model_card_commits(writes: list[tuple[str, int]], error: str) -> bool:
    device = open_device("model")
    device.write(error, 1)
    device.batch([("write", name, value) for name, value in writes])
    return not device.read(error)


@pytest.mark.parametrize(("key", "value", "inside"), LIMIT_CASES,
                         ids=[f"{k}={v}" for k, v, _ in LIMIT_CASES])
def test_a_limit_at_its_edge_is_judged_alike_everywhere(key, value, inside,
                                                        rtl_limit_verdicts):
    try:
        limits = Limits.model_validate({"defaults": {key: value}}, strict=True).defaults
        host = True
    except ValidationError:
        limits = SymbolLimits.model_construct(**(SymbolLimits().model_dump() | {key: value}))
        host = False
    assert host is inside
    if not card_judges(key, value, inside):
        return
    assert model_card_commits(limits_writes(0, limits), "risk_commit_error") is inside
    assert rtl_limit_verdicts[key, value] is inside


def param_cases():
    """(key, register value, whether the host accepts it) at each end of each parameter; the
    mode as its code (3 is no mode)."""
    yield "mode", StrategyMode.OFF.value, True
    yield "mode", StrategyMode.TAKE.value, True
    yield "mode", StrategyMode.TAKE.value + 1, False
    for b in STRATEGY_PARAMS[1:]:
        for value, inside in ((b.low, True), (b.high, True), (b.low - 1, False),
                              (b.high + 1, False)):
            if 0 <= value < 1 << b.bits:        # else no register holds it: nothing to judge
                yield b.name, value, inside


PARAM_CASES = list(param_cases())
MODES = {m.value: m.name.lower() for m in StrategyMode}


def staged_params(key, value) -> dict[str, int]:
    params = StrategyParams(mode="quote")
    values = strategy.register_values(params)
    return values | {key: value}


@pytest.fixture(scope="module")
def rtl_param_verdicts() -> dict[tuple, bool]:
    verdicts = rtl_strategy_commits([staged_params(k, v) for k, v, _ in PARAM_CASES])
    return {(k, v): ok for (k, v, _), ok in zip(PARAM_CASES, verdicts, strict=True)}


@pytest.mark.parametrize(("key", "value", "inside"), PARAM_CASES,
                         ids=[f"{k}={v}" for k, v, _ in PARAM_CASES])
def test_a_parameter_at_its_edge_is_judged_alike_everywhere(key, value, inside,
                                                            rtl_param_verdicts):
    host_value = MODES.get(value, "other") if key == "mode" else value
    try:
        params = StrategyParams.model_validate({key: host_value}, strict=True)
        host = True
    except ValidationError:
        params = None
        host = False
    assert host is inside
    writes = [*((f"strategy_param_{k}", v) for k, v in staged_params(key, value).items()),
              ("strategy_commit", 0)]
    if params is not None:          # the registers staged are the host's own writes
        assert strategy_writes(0, params) == writes
    assert model_card_commits(writes, "strategy_commit_error") is inside
    assert rtl_param_verdicts[key, value] is inside


# --- docs/limits.md -------------------------------------------------------------------------

def doc_ranges() -> dict[str, str]:
    """key -> the range column of docs/limits.md's tables."""
    rows = re.findall(r"^\| `(\w+)` \| \w+ \| ([^|]*) \|", (ROOT / "docs" / "limits.md")
                      .read_text(), re.MULTILINE)
    return {key: text.strip() for key, text in rows}


def written(value) -> str:
    """A bound as docs/limits.md writes it: powers of two less one as 2^n-1."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value < 1 else re.sub(r"e\+0*", "e", f"{value:.0e}")
    if value > 100_000_000 and (value + 1) & value == 0:
        return f"2^{(value + 1).bit_length() - 1}-1"
    return str(value)


@pytest.mark.parametrize("bound", [*HOST_LIMITS, *STRATEGY_PARAMS[1:]], ids=lambda b: b.name)
def test_docs_limits_md_states_the_table_s_range(bound):
    stated = doc_ranges()[bound.name]
    assert stated.startswith(f"{written(bound.low)} .. {written(bound.high)}"), stated


def doc_number(text: str) -> int:
    """A number as docs/risk.md writes it: 10,000, 10^13, 2^44-1."""
    match = re.fullmatch(r"(\d+)\^(\d+)(-1)?", text.replace(",", ""))
    if match is None:
        return int(text.replace(",", ""))
    base, power, less = match.groups()
    return int(base) ** int(power) - (1 if less else 0)


@pytest.mark.parametrize("bound", GATE_LIMITS, ids=lambda b: b.name)
def test_docs_risk_md_states_the_gate_s_registers(bound):
    text = (ROOT / "docs" / "risk.md").read_text()
    row = re.search(rf"^\|[^|\n]*`limit_{bound.name}`[^|\n]*\| (\d+) \| ([^|\n]*) \|$", text,
                    re.MULTILINE)
    assert row is not None, bound.name
    bits, stated = row.groups()
    assert int(bits) == bound.bits
    if ".." not in stated:                          # a bit: "0, 1"
        stated = stated.replace(", ", " .. ")
    ends = re.match(r"([\d,^-]+) \.\. ([\d,^-]+)", stated)
    assert (doc_number(ends[1]), doc_number(ends[2])) == (bound.low, bound.high), stated

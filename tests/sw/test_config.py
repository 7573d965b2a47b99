"""Limits and strategy files (sw/model/config.py): schema, ranges, refusal messages, merging.

The bounds below are the documented ranges of each key, written out here rather than read from
the schema, so a silently widened (or narrowed) range fails a test.
"""

from __future__ import annotations

import json

import pytest

from sw.model.config import (
    ConfigError,
    Limits,
    StrategyConfig,
    SymbolLimits,
    load_limits,
    load_strategy,
)

U32 = 4_294_967_295
I32_MAX = 2_147_483_647
I32_MIN = -2_147_483_648

# The example limits file from issue 2, byte for byte in content.
ISSUE_EXAMPLE = """
{"halted": false,
 "defaults": {"max_order_qty": 500, "max_order_notional": 50000.0, "collar_bps": 100,
              "max_long": 2000, "max_short": 2000, "max_open_orders": 4,
              "max_orders_per_sec": 1000, "enabled": true},
 "symbols": {"AAPL": {"max_order_qty": 100}}}
"""

# key -> (lowest legal, highest legal, one below, one above); None = no bound on that side
# worth probing (a float bound is probed with the next representable value).
LIMIT_RANGES = {
    "max_order_qty": (1, U32, 0, U32 + 1),
    "collar_bps": (0, 10_000, -1, 10_001),
    "max_long": (0, I32_MAX, -1, I32_MAX + 1),
    "max_short": (0, I32_MAX, -1, I32_MAX + 1),
    "max_open_orders": (0, 255, -1, 256),
    "max_orders_per_sec": (0, 1_000_000, -1, 1_000_001),
    "rate_burst": (1, 65_535, 0, 65_536),
}
NOTIONAL_GOOD = (1e-4, 0.01, 50_000.0, 1e9)
# Above 0 but under one ITCH unit (1e-5, 9.999e-5) would be 0 units, which the card refuses.
NOTIONAL_BAD = (0.0, 1e-5, 9.999e-5, -0.01, -50_000.0, 1_000_000_000.0001, 1e10,
                float("nan"), float("inf"), float("-inf"))

STRATEGY_RANGES = {
    "size": (1, 99_999_999, 0, 100_000_000),  # 8-digit FIX OrderQty
    "tick": (1, 1_000_000, 0, 1_000_001),
    "half_spread_ticks": (0, 10_000, -1, 10_001),
    "skew_ticks": (0, 10_000, -1, 10_001),
    "inventory_unit_shift": (0, 31, -1, 32),
    "requote_ticks": (1, 10_000, 0, 10_001),
    "take_buy_at_or_below": (0, U32, -1, U32 + 1),
    "take_sell_at_or_above": (0, U32, -1, U32 + 1),
}


def refused(loader, data) -> str:
    with pytest.raises(ConfigError) as info:
        loader(data)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# The issue's example file


def test_issue_example_file_loads(tmp_path):
    path = tmp_path / "limits.json"
    path.write_text(ISSUE_EXAMPLE)
    limits = load_limits(path)
    assert isinstance(limits, Limits)
    assert limits.halted is False
    d = limits.defaults
    assert (d.max_order_qty, d.max_order_notional, d.collar_bps) == (500, 50_000.0, 100)
    assert (d.max_long, d.max_short, d.max_open_orders) == (2000, 2000, 4)
    assert (d.max_orders_per_sec, d.enabled) == (1000, True)
    assert d.max_notional_units == 500_000_000          # $50,000 = 5e8 share x 1/10000 $
    aapl = limits.for_symbol("AAPL")
    assert aapl.max_order_qty == 100
    assert limits.for_symbol("MSFT").max_order_qty == 500
    # str path and dict give the same object
    assert load_limits(str(path)) == limits
    assert load_limits(json.loads(ISSUE_EXAMPLE)) == limits


def test_empty_object_gives_documented_defaults():
    limits = load_limits({})
    assert limits.halted is False
    assert limits.symbols == {} and limits.positions == {}
    d = limits.defaults
    assert (d.max_order_qty, d.max_order_notional, d.collar_bps, d.max_long, d.max_short,
            d.max_open_orders, d.max_orders_per_sec, d.rate_burst, d.enabled) == (
        500, 50_000.0, 100, 2000, 2000, 4, 1000, 10, True)


# ---------------------------------------------------------------------------------------------
# Every key range-checked, under defaults and under a per-symbol override


def _doc(where, key, value):
    """A limits or strategy file setting one key under the defaults or under AAPL."""
    if where == "defaults":
        return {"defaults": {key: value}}
    return {"symbols": {"AAPL": {key: value}}}


RANGE_CASES = ([("limits", k) for k in sorted(LIMIT_RANGES)]
               + [("strategy", k) for k in sorted(STRATEGY_RANGES)])


@pytest.mark.parametrize(("which", "key"), RANGE_CASES)
@pytest.mark.parametrize("where", ["defaults", "symbols"])
def test_key_range(which, key, where):
    """Both ends of every key's range load; one step outside, or a wrong type, is refused
    naming that key and no other."""
    load, ranges = ((load_limits, LIMIT_RANGES) if which == "limits"
                    else (load_strategy, STRATEGY_RANGES))
    low, high, below, above = ranges[key]
    name = f"defaults.{key}" if where == "defaults" else f"symbols.AAPL.{key}"
    for good in (low, high):
        assert getattr(load(_doc(where, key, good)).for_symbol("AAPL"), key) == good
    for bad in (below, above, str(low), float(low), True):
        message = refused(load, _doc(where, key, bad))
        assert name in message, (bad, message)
        others = [k for k in ranges if k != key and f".{k}:" in message]
        assert not others, message


@pytest.mark.parametrize("where", ["defaults", "symbols"])
def test_notional_range(where):
    def doc(value):
        if where == "defaults":
            return {"defaults": {"max_order_notional": value}}
        return {"symbols": {"AAPL": {"max_order_notional": value}}}

    name = ("defaults.max_order_notional" if where == "defaults"
            else "symbols.AAPL.max_order_notional")
    for good in NOTIONAL_GOOD:
        assert load_limits(doc(good)).for_symbol("AAPL").max_order_notional == good
    for bad in NOTIONAL_BAD:
        assert name in refused(load_limits, doc(bad)), bad


def test_notional_nan_and_infinity_from_json_text(tmp_path):
    # Python's json module accepts NaN/Infinity literals: they must still be refused.
    for literal in ("NaN", "Infinity", "-Infinity"):
        path = tmp_path / "limits.json"
        path.write_text('{"defaults": {"max_order_notional": %s}}' % literal)
        assert "defaults.max_order_notional" in refused(load_limits, path)


def test_notional_accepts_a_json_integer():
    # JSON has one number type: 50000 and 50000.0 are the same limit.
    assert load_limits({"defaults": {"max_order_notional": 50000}}).defaults \
        .max_notional_units == 500_000_000


@pytest.mark.parametrize("where", ["defaults", "symbols"])
def test_enabled_is_a_bool(where):
    def doc(value):
        if where == "defaults":
            return {"defaults": {"enabled": value}}
        return {"symbols": {"AAPL": {"enabled": value}}}

    name = "defaults.enabled" if where == "defaults" else "symbols.AAPL.enabled"
    assert load_limits(doc(False)).for_symbol("AAPL").enabled is False
    for bad in (1, 0, "true", "false", 1.0):
        assert name in refused(load_limits, doc(bad)), bad


def test_halted_is_a_bool():
    assert load_limits({"halted": True}).halted is True
    for bad in (1, 0, "yes", None):
        assert "halted" in refused(load_limits, {"halted": bad}), bad


def test_positions_range_and_type():
    limits = load_limits({"positions": {"AAPL": I32_MIN, "MSFT": I32_MAX, "IBM": 0}})
    assert limits.positions == {"AAPL": I32_MIN, "MSFT": I32_MAX, "IBM": 0}
    for bad in (I32_MIN - 1, I32_MAX + 1, "100", 1.5, True):
        assert "positions.AAPL" in refused(load_limits, {"positions": {"AAPL": bad}}), bad


def test_symbol_names_checked():
    # 1..8 printable ASCII, no spaces: what fits the ITCH stock field
    assert load_limits({"symbols": {"ABCDEFGH": {}}}).for_symbol("ABCDEFGH").max_order_qty == 500
    for bad in ("ABCDEFGHI", "", "A B", "A\tB", "ÄPFEL"):
        message = refused(load_limits, {"symbols": {bad: {"max_order_qty": 1}}})
        assert "symbols" in message and bad in message, message
        assert "positions" in refused(load_limits, {"positions": {bad: 1}})


# ---------------------------------------------------------------------------------------------
# Unknown keys and wrong types


@pytest.mark.parametrize("doc, name", [
    ({"halted": False, "max_qty": 5}, "max_qty"),
    ({"defaults": {"max_order_qtty": 5}}, "defaults.max_order_qtty"),
    ({"symbols": {"AAPL": {"colar_bps": 5}}}, "symbols.AAPL.colar_bps"),
    ({"defaults": {"max_order_qty": 5, "extra": {"nested": 1}}}, "defaults.extra"),
])
def test_unknown_keys_refused_by_name(doc, name):
    message = refused(load_limits, doc)
    assert name in message, message


@pytest.mark.parametrize("key", sorted(LIMIT_RANGES))
def test_wrong_types_refused(key):
    low = LIMIT_RANGES[key][0]
    for bad in (str(low), float(low) + 0.5, True, None, [low], {"v": low}):
        message = refused(load_limits, {"defaults": {key: bad}})
        assert f"defaults.{key}" in message, (bad, message)
    # a float with an integral value is still not a share count / count
    assert f"defaults.{key}" in refused(load_limits, {"defaults": {key: float(low)}})


def test_structural_types_refused():
    assert "defaults" in refused(load_limits, {"defaults": [1, 2]})
    assert "symbols" in refused(load_limits, {"symbols": ["AAPL"]})
    assert "symbols.AAPL" in refused(load_limits, {"symbols": {"AAPL": 100}})
    assert "max_order_notional" in refused(load_limits,
                                           {"defaults": {"max_order_notional": "50000"}})


# ---------------------------------------------------------------------------------------------
# Files that cannot be used: ConfigError, never a traceback


def test_malformed_json(tmp_path):
    path = tmp_path / "limits.json"
    path.write_text('{"defaults": {"max_order_qty": 500,}}\n')
    message = refused(load_limits, path)
    assert str(path) in message and "JSON" in message and "line 1" in message
    path.write_text('{"halted": false,\n "defaults": {\n')
    assert "JSON" in refused(load_limits, path)
    path.write_text("")
    assert "JSON" in refused(load_limits, path)


@pytest.mark.parametrize("text", ["[]", "5", '"limits"', "null", "true"])
def test_top_level_must_be_an_object(tmp_path, text):
    path = tmp_path / "limits.json"
    path.write_text(text)
    assert "top level" in refused(load_limits, path)
    assert "top level" in refused(load_strategy, path)


def test_unreadable_files(tmp_path):
    missing = tmp_path / "nope.json"
    message = refused(load_limits, missing)
    assert str(missing) in message and "cannot read" in message
    assert "cannot read" in refused(load_limits, tmp_path)          # a directory
    assert "cannot read" in refused(load_strategy, missing)


def test_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "limits.json"
    path.write_bytes(b'{"halted": \xff\xfe false}')
    message = refused(load_limits, path)
    assert str(path) in message
    path.write_bytes(b"\xff\xfe{\x00}\x00")                          # UTF-16 with BOM
    refused(load_strategy, path)


def test_several_bad_keys_are_all_named():
    message = refused(load_limits, {"defaults": {"max_order_qty": 0, "collar_bps": -1},
                                    "symbols": {"AAPL": {"max_long": -5}}})
    for name in ("defaults.max_order_qty", "defaults.collar_bps", "symbols.AAPL.max_long"):
        assert name in message, message


# ---------------------------------------------------------------------------------------------
# Merging and the integer notional bound


def test_override_merges_with_defaults():
    limits = load_limits({
        "defaults": {"max_order_qty": 300, "collar_bps": 50, "max_long": 900, "rate_burst": 7},
        "symbols": {"AAPL": {"collar_bps": 20, "enabled": False, "max_order_notional": 0.01},
                    "MSFT": {}}})
    aapl = limits.for_symbol("AAPL")
    assert (aapl.collar_bps, aapl.enabled, aapl.max_order_notional) == (20, False, 0.01)
    assert (aapl.max_order_qty, aapl.max_long, aapl.rate_burst) == (300, 900, 7)
    assert (aapl.max_short, aapl.max_open_orders, aapl.max_orders_per_sec) == (2000, 4, 1000)
    assert aapl.max_notional_units == 100
    assert limits.for_symbol("MSFT") == limits.defaults
    assert limits.for_symbol("IBM") == limits.defaults
    # an explicit null in an override means "use the default"
    nulls = load_limits({"defaults": {"collar_bps": 50}, "symbols": {"AAPL": {"collar_bps": None}}})
    assert nulls.for_symbol("AAPL").collar_bps == 50
    # the defaults object is not mutated by merging
    assert limits.defaults.collar_bps == 50 and limits.defaults.enabled is True


@pytest.mark.parametrize("dollars, units", [
    (50_000.0, 500_000_000),
    (0.01, 100),
    (0.0001, 1),
    (1234.5678, 12_345_678),
    (0.1, 1_000),
    (0.3, 3_000),
    (19.99, 199_900),
    (1e9, 10_000_000_000_000),
    (999_999_999.9999, 9_999_999_999_999),
])
def test_max_notional_units_exact(dollars, units):
    assert load_limits({"defaults": {"max_order_notional": dollars}}).defaults \
        .max_notional_units == units


@pytest.mark.parametrize("dollars, units", [(0.00015, 1), (0.00019, 1), (2.00019, 20_001)])
def test_max_notional_units_sub_unit_floors(dollars, units):
    # qty * price is an integer, so qty * price <= dollars * 10000 <=> qty * price <= floor(.)
    assert SymbolLimits(max_order_notional=dollars).max_notional_units == units


# ---------------------------------------------------------------------------------------------
# Strategy file


def test_strategy_defaults_and_example(tmp_path):
    cfg = load_strategy({})
    assert isinstance(cfg, StrategyConfig)
    d = cfg.defaults
    assert (d.mode, d.size, d.tick, d.half_spread_ticks, d.skew_ticks, d.inventory_unit_shift,
            d.requote_ticks, d.take_buy_at_or_below, d.take_sell_at_or_above) == (
        "quote", 100, 100, 2, 1, 7, 1, 0, 0)
    path = tmp_path / "strategy.json"
    path.write_text(json.dumps({"defaults": {"mode": "quote", "size": 200},
                                "symbols": {"AAPL": {"mode": "take",
                                                     "take_buy_at_or_below": 1_500_000},
                                            "MSFT": {"mode": "off"}}}))
    cfg = load_strategy(path)
    aapl = cfg.for_symbol("AAPL")
    assert (aapl.mode, aapl.size, aapl.take_buy_at_or_below, aapl.tick) == (
        "take", 200, 1_500_000, 100)
    assert cfg.for_symbol("MSFT").mode == "off"
    assert cfg.for_symbol("IBM") == cfg.defaults


@pytest.mark.parametrize("where", ["defaults", "symbols"])
def test_strategy_mode(where):
    def doc(value):
        if where == "defaults":
            return {"defaults": {"mode": value}}
        return {"symbols": {"AAPL": {"mode": value}}}

    name = "defaults.mode" if where == "defaults" else "symbols.AAPL.mode"
    for good in ("quote", "take", "off"):
        assert load_strategy(doc(good)).for_symbol("AAPL").mode == good
    for bad in ("Quote", "make", "", 1, None if where == "defaults" else 0):
        assert name in refused(load_strategy, doc(bad)), bad


def test_strategy_unknown_keys_and_bad_files(tmp_path):
    assert "defaults.sise" in refused(load_strategy, {"defaults": {"sise": 1}})
    assert "symbols.AAPL.spread" in refused(load_strategy, {"symbols": {"AAPL": {"spread": 1}}})
    assert "halted" in refused(load_strategy, {"halted": False})   # a limits key is not a
    path = tmp_path / "s.json"                                      # strategy key
    path.write_text("{mode: quote}")
    message = refused(load_strategy, path)
    assert "strategy file" in message and "JSON" in message

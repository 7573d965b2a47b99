"""The desk's domain rules, without HTTP: all-or-nothing changes, fail-closed put-backs,
reduce-only arithmetic, seeding."""

from __future__ import annotations

import pytest

from drivers.card import CardError
from drivers.device import DriverError
from sw.control.desk import (
    Conflict,
    Desk,
    StrategyUpdate,
    UnknownSymbol,
    seed_documents,
    updated_strategy,
)
from sw.model.config import (
    Limits,
    StrategyConfig,
    StrategyParamsUpdate,
    SymbolLimits,
    SymbolLimitsUpdate,
)
from sw.model.risk import GateLimits

from .support import RISK, model_of


def test_start_halts_and_loads(desk, card):
    assert card.device.read("risk_halt") == 1
    assert desk.load_state.limits_loaded and desk.load_state.strategy_loaded
    assert model_of(card).slot_limits[0] == GateLimits.of(SymbolLimits())


def test_start_with_an_unreachable_card_reports_it(card, store, monkeypatch):
    def unreachable():
        raise DriverError("uart: no answer from the card")

    monkeypatch.setattr(card, "halt", unreachable)
    state = Desk(card, store).start()
    assert not state.limits_loaded and "no answer" in state.error


def test_a_failed_put_back_halts_the_card(desk, card, store, monkeypatch):
    """Slot 1 refuses the new limits and slot 0 then refuses its old ones: the card's state
    is not what the store says, so it is halted (fail closed) and the error says so."""
    desk.release(RISK)
    commits = []

    def flaky(slot, limits, position=None):
        commits.append(slot)
        if len(commits) > 1:
            raise CardError(f"the card refused the limits of slot {slot}")
        model_of(card).slot_limits[slot] = GateLimits.of(limits)

    monkeypatch.setattr(card, "commit_limits", flaky)
    with pytest.raises(CardError, match="could not be put back .* the card is halted"):
        desk.update_defaults(RISK, SymbolLimitsUpdate(max_order_qty=9))
    assert card.device.read("risk_halt") == 1
    assert desk.limits().defaults.max_order_qty == 500              # nothing persisted


def test_changes_refer_only_to_directory_symbols(desk):
    with pytest.raises(UnknownSymbol, match="TSLA is not in the card's symbol directory"):
        desk.disable(RISK, "TSLA")


def test_reduce_only_re_entry_recomputes_from_the_new_position(desk, card, store):
    with store.transaction() as tx:       # the OMS (not built) would confirm positions
        tx.put_document("limits", Limits(positions={"AAPL": 100}).model_dump(mode="json"))
    desk.enter_reduce_only(RISK, "AAPL")
    assert (model_of(card).slot_limits[0].max_long, model_of(card).slot_limits[0].max_short) \
        == (100, 0)
    with store.transaction() as tx:
        limits = desk.limits().model_copy(update={"positions": {"AAPL": -40}})
        tx.put_document("limits", limits.model_dump(mode="json"))
    desk.enter_reduce_only(RISK, "AAPL")
    assert (model_of(card).slot_limits[0].max_long, model_of(card).slot_limits[0].max_short) \
        == (0, 40)
    assert desk.reduce_only()["AAPL"]["previous"] == {"max_long": None, "max_short": None}
    desk.leave_reduce_only(RISK, "AAPL")
    assert model_of(card).slot_limits[0] == GateLimits.of(SymbolLimits())
    assert desk.limits().symbols == {}


def test_leaving_reduce_only_when_not_in_it_conflicts(desk):
    with pytest.raises(Conflict, match="not in reduce-only"):
        desk.leave_reduce_only(RISK, "AAPL")


def test_updated_strategy_merges_without_touching_other_keys():
    config = StrategyConfig(symbols={"AAPL": StrategyParamsUpdate(size=5)})
    new = updated_strategy(config, StrategyUpdate(
        defaults=StrategyParamsUpdate(tick=50),
        symbols={"AAPL": StrategyParamsUpdate(mode="take"), "MSFT": StrategyParamsUpdate(size=1)}))
    assert new.defaults.tick == 50 and new.defaults.size == 100
    assert new.for_symbol("AAPL").model_dump(include={"mode", "size", "tick"}) == {
        "mode": "take", "size": 5, "tick": 50}
    assert new.for_symbol("MSFT").size == 1
    assert config.defaults.tick == 100                              # the original is unchanged


def test_seed_writes_only_what_the_store_lacks(store):
    assert seed_documents(store, limits=Limits(halted=True), symbols=["AAPL"]) == [
        "limits", "strategy", "directory"]
    assert seed_documents(store, limits=Limits(), symbols=["AAPL"]) == []
    assert store.document("limits")["halted"] is True
    assert seed_documents(store, symbols=["AAPL", "MSFT"]) == ["directory"]
    assert store.directory() == ["AAPL", "MSFT"]
    assert store.audit(1)[0].old == ["AAPL"]

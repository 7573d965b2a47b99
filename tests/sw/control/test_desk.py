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

from .support import RISK, feed, model_card, model_of


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


def test_the_desk_writes_each_symbol_to_the_slot_the_card_s_map_gives_it(store):
    # Subscribed in the desk's order (not the feed's); AMZN's locate is not configured.
    card = model_card({"NVDA": 3, "AMZN": None, "MSFT": 2, "AAPL": 1})
    desk = Desk(card, store)
    assert desk.start().limits_loaded
    assert card.slots == {"NVDA": 0, "MSFT": 1, "AAPL": 2} and desk.slot_of("AMZN") is None
    model = model_of(card)
    desk.disable(RISK, "MSFT")
    assert [model.slot_limits[slot].enabled for slot in range(4)] == [True, False, True, False]
    desk.disable(RISK, "AMZN")              # persisted; the card has no slot to write
    assert "AMZN" in desk.limits().symbols and not model.slot_limits[3].enabled
    feed(card)
    assert {e.symbol for e in card.events(10_000)} <= {"NVDA", "MSFT", "AAPL"}


def test_a_feed_gap_checks_the_map_again_and_a_wrong_one_halts_the_card(store):
    # The configuration swapped two locates: the feed's R messages name them the other way.
    card = model_card({"AAPL": 2, "MSFT": 1, "NVDA": 3, "AMZN": 4})
    desk = Desk(card, store)
    desk.start()
    desk.release(RISK)                      # nothing named yet: the map agrees so far
    desk.watch(card.status().registers)
    feed(card, gaps=2)
    assert card.device.read("risk_halt") == 0
    desk.watch(card.status().registers)     # the poll sees the gap
    assert card.device.read("risk_halt") == 1 and not desk.load_state.limits_loaded
    assert "slot 0: expected AAPL (locate 2), found MSFT" in desk.load_state.error
    with pytest.raises(Conflict):
        desk.release(RISK)

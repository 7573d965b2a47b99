"""/api/v1/strategy: parameters committed to the card's slots, persisted and audited."""

from __future__ import annotations

from drivers.card import CardError
from sw.model.config import StrategyParams

from ..support import model_of


def test_strategy_update_reaches_the_changed_slots(client, auth, card, store):
    response = client.put("/api/v1/strategy", headers=auth("trader"), json={
        "defaults": {"half_spread_ticks": 5}, "symbols": {"NVDA": {"mode": "off"}}})
    assert response.status_code == 200
    effective = response.json()["effective"]
    assert effective["NVDA"]["mode"] == "off" and effective["AAPL"]["mode"] == "quote"
    params = model_of(card).slot_params
    assert [p.half_spread_ticks for p in params[:4]] == [5] * 4
    assert [p.mode for p in params[:4]] == ["quote", "quote", "off", "quote"]
    assert store.document("strategy")["symbols"]["NVDA"]["mode"] == "off"
    (row,) = store.audit(1)
    assert (row.action, row.who, row.target) == ("strategy.update", "trader-user", "strategy")
    assert row.old["defaults"]["half_spread_ticks"] == 2
    assert row.new["defaults"]["half_spread_ticks"] == 5


def test_symbol_overrides_merge_key_by_key(client, auth):
    client.put("/api/v1/strategy", headers=auth("trader"), json={"symbols": {"AAPL": {"size": 7}}})
    body = client.put("/api/v1/strategy", headers=auth("trader"),
                      json={"symbols": {"AAPL": {"tick": 50}}}).json()
    assert body["document"]["symbols"]["AAPL"] == {**{k: None for k in StrategyParams.model_fields},
                                                   "size": 7, "tick": 50}


def test_unknown_symbol_is_404_and_refusal_is_502(client, auth, card, store, monkeypatch):
    response = client.put("/api/v1/strategy", headers=auth("trader"),
                          json={"symbols": {"TSLA": {"size": 7}}})
    assert response.status_code == 404
    before = store.document("strategy")

    def refuse(slot, params):
        raise CardError(f"the card refused the strategy parameters of slot {slot}")

    monkeypatch.setattr(card, "commit_params", refuse)
    response = client.put("/api/v1/strategy", headers=auth("trader"),
                          json={"defaults": {"size": 9}})
    assert response.status_code == 502
    assert store.document("strategy") == before
    assert model_of(card).slot_params[0].size == 100

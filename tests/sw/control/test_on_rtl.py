"""The control plane in front of the simulated RTL card (Verilator, over the sim transport):
it starts halted with the persisted limits committed and read back from the hardware, a risk
officer's limit change lands in the RTL's registers and is audited, and the kill switch halts
the RTL gate."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from drivers.card import Card
from drivers.device import Device
from hw.rtl.nic import REGMAP
from sw.control.auth import SYSTEM, Role
from sw.control.main import create_app
from sw.control.settings import Settings
from sw.control.store import Store

from .support import LOCATES

pytestmark = pytest.mark.xdist_group("simulated_card")


@pytest.fixture(scope="module")
def rtl_card():
    from drivers.sim import SimServer, SimTransport

    server = SimServer().start()
    card = Card(Device(SimTransport.connect(server.address), REGMAP), LOCATES)
    yield card
    card.device.close()
    server.stop()


def test_limits_kill_switch_and_audit_on_the_rtl_card(rtl_card, tmp_path):
    store = Store(tmp_path / "control.db")
    tokens = {role: store.add_token(f"{role}-user", role, SYSTEM) for role in Role}
    store.close()
    device = rtl_card.device
    device.write("risk_halt", 0)              # whatever the card was doing, start must halt it
    with TestClient(create_app(rtl_card, Store(tmp_path / "control.db"),
                               Settings(poll_interval=0.2))) as client:
        def auth(role):
            return {"Authorization": f"Bearer {tokens[role]}"}

        status = client.get("/api/v1/status", headers=auth(Role.VIEWER)).json()
        assert status["halted"] is True and device.read("risk_halt") == 1
        assert status["limits_loaded"] is True

        response = client.put("/api/v1/limits/symbols/MSFT", headers=auth(Role.RISK),
                              json={"max_order_qty": 321, "collar_bps": 55})
        assert response.status_code == 200
        # The last commit staged MSFT's values in the RTL, and the gate took them.
        assert device.read_many(["risk_limit_max_order_qty", "risk_limit_collar_bps",
                                 "risk_commit_error"]) == {
            "risk_limit_max_order_qty": 321, "risk_limit_collar_bps": 55,
            "risk_commit_error": 0}
        assert client.put("/api/v1/limits/symbols/MSFT", headers=auth(Role.TRADER),
                          json={"max_order_qty": 1}).status_code == 403
        assert client.put("/api/v1/limits/symbols/MSFT", headers=auth(Role.RISK),
                          json={"collar_bps": 10_001}).status_code == 422
        assert device.read("risk_limit_collar_bps") == 55

        assert client.post("/api/v1/release", headers=auth(Role.RISK)).status_code == 200
        assert device.read("risk_halt") == 0
        assert client.post("/api/v1/halt", headers=auth(Role.TRADER)).status_code == 200
        assert device.read("risk_halt") == 1
        assert client.get("/api/v1/status", headers=auth(Role.VIEWER)).json()["halted"]

        audit = client.get("/api/v1/audit", headers=auth(Role.VIEWER)).json()
        assert [(row["action"], row["who"]) for row in audit[:3]] == [
            ("halt", "trader-user"), ("release", "risk-user"), ("limits.update", "risk-user")]
        assert audit[2]["target"] == "limits.symbols.MSFT"
        assert audit[2]["old"]["override"] == {}
        assert audit[2]["new"]["override"] == {"max_order_qty": 321, "collar_bps": 55}

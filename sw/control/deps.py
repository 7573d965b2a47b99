"""The routes' dependencies, as `Annotated` aliases: the card's desk, the store, the telemetry
and the current user with the role a route needs.

Authentication: `Authorization: Bearer <token>`. No token or an unknown one is 401 (with
`WWW-Authenticate: Bearer`); a known token whose role is too low is 403. Only the event stream
also takes `?token=`, because a browser's EventSource cannot send headers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sw.control.auth import Role, User
from sw.control.desk import Desk
from sw.control.store import Store
from sw.control.telemetry import Telemetry
from sw.control.trading import TradingView
from sw.model.config import Symbol


def get_desk(request: Request) -> Desk:
    return request.app.state.desk


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_telemetry(request: Request) -> Telemetry:
    return request.app.state.telemetry


def get_trading(request: Request) -> TradingView:
    return request.app.state.trading


DeskDep = Annotated[Desk, Depends(get_desk)]
StoreDep = Annotated[Store, Depends(get_store)]
SymbolPath = Annotated[Symbol, Path(description="a symbol of the card's directory")]
TelemetryDep = Annotated[Telemetry, Depends(get_telemetry)]
TradingDep = Annotated[TradingView, Depends(get_trading)]

_bearer = HTTPBearer(auto_error=False, description="an API token from `nerve token add`")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": "Bearer"})


def _authenticate(store: Store, token: str | None) -> User:
    if not token:
        raise _unauthorized("an API token is required: Authorization: Bearer <token>")
    user = store.user_for(token)
    if user is None:
        raise _unauthorized("unknown API token")
    return user


def current_user(store: StoreDep, credentials: BearerDep) -> User:
    return _authenticate(store, credentials.credentials if credentials else None)


def stream_user(store: StoreDep, credentials: BearerDep,
                token: Annotated[str | None, Query(
                    description="the API token, for EventSource (which cannot send headers); "
                                "prefer the Authorization header elsewhere")] = None) -> User:
    return _authenticate(store, credentials.credentials if credentials else token)


CurrentUser = Annotated[User, Depends(current_user)]


def _role(needed: Role):
    def check(user: CurrentUser) -> User:
        if not user.role.may(needed):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"{user.name} ({user.role}) may not do this: it needs the "
                                f"{needed} role")
        return user
    return check


Viewer = Annotated[User, Depends(_role(Role.VIEWER))]
Trader = Annotated[User, Depends(_role(Role.TRADER))]
RiskOfficer = Annotated[User, Depends(_role(Role.RISK))]
StreamViewer = Annotated[User, Depends(stream_user)]

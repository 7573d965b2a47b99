"""GET /api/v1/audit: who changed what, when, from what to what; newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sw.control.deps import StoreDep, Viewer
from sw.control.store import AuditEntry

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditEntry])
def read_audit(store: StoreDep, user: Viewer,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[AuditEntry]:
    """Entries `at` UTC (ISO 8601), `who` and `role` made `action` on `target`, `old` -> `new`
    (JSON); the newest first."""
    return store.audit(limit)

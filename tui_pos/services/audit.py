"""The append-only audit log: overrides, cancellations, sign-ins, imports."""

from __future__ import annotations

import json
from typing import Any

from tui_pos.models import AuditLog


def record(action: str, *, user_id: int | None = None, approved_by: int | None = None,
           register: str = "", **detail: Any) -> None:
    """Append one entry. Call inside the transaction of the change it records."""
    AuditLog.create(action=action, user=user_id, approved_by=approved_by, register=register,
                    detail=json.dumps(detail, sort_keys=True, default=str))


def entries(limit: int = 100) -> list[dict[str, Any]]:
    """Newest first, for support and tests."""
    rows = AuditLog.select().order_by(AuditLog.id.desc()).limit(limit)
    return [{"at": r.at, "action": r.action, "user_id": r.user_id, "approved_by": r.approved_by_id,
             "register": r.register, "detail": json.loads(r.detail or "{}")} for r in rows]

"""The audit log's hash chain: what a row's hash covers, and where a chain stops matching. No I/O.

Each row carries `prev_hash`, the hash of the row before it (GENESIS for
the first), and `hash = sha256(prev_hash + canonical(row))` in hex. A row
changed, deleted or slipped in with raw SQL no longer matches: either its
own hash, or the next row's `prev_hash`. Someone who rewrites every row
from the change onward with this algorithm is not caught by the chain alone:
that is what an anchor written elsewhere (the head printed on the Z report)
is for.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64   # the prev_hash of the first row


@dataclass(frozen=True)
class AuditRow:
    """One row of the log: the content the hash covers, and the two hashes stored with it."""

    id: int
    at: _dt.datetime          # naive UTC
    action: str
    user_id: int | None
    approved_by: int | None
    register: str
    detail: str               # JSON text, as stored
    prev_hash: str = ""
    hash: str = ""


def canonical(row: AuditRow) -> bytes:
    """The row's content as the hash reads it: a JSON array in a fixed order, UTF-8.

    The time is ISO 8601 to the microsecond whatever the database gives back;
    anything that is not a time (text written over it by hand) is hashed as
    the text it is, so it cannot match.
    """
    at = row.at.strftime("%Y-%m-%dT%H:%M:%S.%f") if isinstance(row.at, _dt.datetime) else str(row.at)
    content = [row.id, at, row.action, row.user_id, row.approved_by, row.register, row.detail]
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def row_hash(prev: str, row: AuditRow) -> str:
    """The hash of `row` chained after a row whose hash is `prev`."""
    return hashlib.sha256(prev.encode("ascii", "replace") + canonical(row)).hexdigest()


def verify(rows: Iterable[AuditRow], prev: str = GENESIS) -> int | None:
    """The id of the first row (in the order given: id order) that does not match the chain, or None.

    A row matches when its `prev_hash` is the hash of the row before it
    (`prev` for the first row given) and its `hash` is `row_hash` of its
    content. `rows` is read once, one row at a time: it may be a stream.
    """
    for row in rows:
        if row.prev_hash != prev or row.hash != row_hash(prev, row):
            return row.id
        prev = row.hash
    return None


__all__ = ["GENESIS", "AuditRow", "canonical", "row_hash", "verify"]

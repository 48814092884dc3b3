"""What a support technician sees with `tui-pos --support`: read-only facts about this register.

Nothing here writes to the database except `reprint` (which queues a copy for
the running register to print) and nothing grabs a scanner.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from tui_pos import __version__
from tui_pos.config import Config
from tui_pos.models import Note, Register, local_time
from tui_pos.models.db import safe_url

SECRET_WORDS = ("password", "token", "secret", "auth", "key")


@dataclass(frozen=True)
class ReceiptRow:
    receipt_no: str
    closed_at: _dt.datetime | None
    kind: str
    total_cents: int


def config_lines(cfg: Config) -> list[str]:
    """Every section and key as TOML, secrets masked (a database URL's password, tokens, passwords)."""
    lines = [f"# read from {cfg.source}"]
    for section in ("store", "database", "printer", "scanner", "receipt", "customers", "dgi", "loyalty", "sale",
                    "ui", "backup"):
        values = vars(getattr(cfg, section))
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, str) and value and any(w in key.lower() for w in SECRET_WORDS):
                value = "****"
            elif section == "database" and key == "url" and isinstance(value, str):
                value = safe_url(value)
            lines.append(f"{key} = {_toml(value)}")
    return lines


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def last_receipts(register: str, limit: int = 10) -> list[ReceiptRow]:
    reg = Register.get_or_none(Register.code == register)
    if reg is None:
        return []
    rows = (Note.select(Note.receipt_no, Note.closed_at, Note.kind, Note.total_cents)
            .where(Note.register == reg.id, Note.status == "paid").order_by(Note.seq.desc()).limit(limit))
    return [ReceiptRow(r.receipt_no, local_time(r.closed_at) if r.closed_at else None, r.kind, r.total_cents)
            for r in rows]



def log_tail(path: str | Path, lines: int = 30) -> list[str]:
    """The last lines of the log file (an empty list when there is none yet)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in deque(f, maxlen=lines)]
    except FileNotFoundError:
        return []


def version() -> str:
    return f"tui-pos {__version__}"


__all__ = ["config_lines", "last_receipts", "log_tail", "version", "ReceiptRow"]

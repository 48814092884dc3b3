"""Support checks (`tui-pos doctor`) and online backups (`tui-pos backup`)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from tui_pos.config import Config
from tui_pos.models import Note, Register, db
from tui_pos.models.db import is_sqlite
from tui_pos.models.migrations import LATEST, applied_versions


def run_checks(cfg: Config) -> list[tuple[bool, str, str]]:
    """(ok, check, detail) for each health check."""
    results = []
    versions = applied_versions(db.obj)
    results.append((versions[-1:] == [LATEST] if versions else False, "schema",
                    f"at version {versions[-1] if versions else 0}, latest {LATEST}"))
    if is_sqlite():
        verdict = db.execute_sql("PRAGMA integrity_check").fetchone()[0]
        results.append((verdict == "ok", "sqlite integrity", verdict))
        mode = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
        results.append((mode == "wal", "journal mode", mode))
    for reg in Register.select():
        seqs = [n.seq for n in Note.select(Note.seq).where(Note.register == reg.id, Note.seq.is_null(False))
                .order_by(Note.seq)]
        expected = list(range(1, reg.next_seq))
        results.append((seqs == expected, f"receipt numbers {reg.code}",
                        f"{len(seqs)} receipts, gapless" if seqs == expected
                        else f"gap or duplicate: {len(seqs)} receipts, counter at {reg.next_seq}"))
    from tui_pos.services.loyalty import ledger_mismatches
    wrong = ledger_mismatches()
    results.append((not wrong, "loyalty balances",
                    "every balance equals the sum of its ledger" if not wrong
                    else f"{len(wrong)} differ, e.g. {wrong[0][0]}: balance {wrong[0][1]}, ledger {wrong[0][2]}"))
    open_notes = Note.select().where(Note.status == "open").count()
    results.append((True, "open notes", str(open_notes)))
    results.append((True, "printer", f"kind {cfg.printer.kind}"))
    return results


def backup(url: str, target: str) -> str:
    """A consistent copy while registers keep selling."""
    dest = Path(target)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; choose a new file name")
    if is_sqlite():
        src = db.connection()
        out = sqlite3.connect(str(dest))
        try:
            src.backup(out)
        finally:
            out.close()
        return str(dest)
    if shutil.which("pg_dump") is None:
        raise RuntimeError("pg_dump is not installed; install postgresql-client")
    subprocess.run(["pg_dump", "--format=custom", "--file", str(dest), url], check=True)
    return str(dest)

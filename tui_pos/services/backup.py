"""Backups: an online copy while registers sell, the daily copy at close of day, and restore.

SQLite is copied with its online backup API (a consistent snapshot; in WAL
mode the registers keep writing while it runs). PostgreSQL is dumped with
`pg_dump` (custom format) and restored with `pg_restore`, as docs/operations.md says.
A copy is written to a temporary file beside the target and renamed when it
is complete and checked, so a failed backup never leaves half a file.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tui_pos.models import db
from tui_pos.models.db import is_sqlite
from tui_pos.models.migrations import LATEST

# a row's time in each table that records activity: the newest of them says how recent a database is
ACTIVITY = (("note", "opened_at"), ("note", "closed_at"), ("loyalty_movement", "at"), ("audit_log", "at"),
            ("payment", "created_at"))


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do. Nothing was changed."""


@dataclass(frozen=True)
class Facts:
    """What a database file is: its schema version and its newest activity."""

    version: int
    newest: str          # ISO time of the newest sale, ledger or audit row ("" when empty)
    notes: int


def _writable_target(target: str) -> Path:
    dest = Path(target).expanduser()
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new file name (a backup never overwrites one)")
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise BackupError(f"cannot write {dest}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BackupError(f"cannot write {dest}: no permission to write in {parent}")
    return dest


def facts_of(conn: sqlite3.Connection, name: str = "the file") -> Facts:
    """Schema version and newest activity of a SQLite tui-pos database, or BackupError if it is not one."""
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{name} is not a tui-pos database (not SQLite: {exc}); nothing was changed") from None
    if not {"schema_migrations", "note", "customer", "loyalty_movement"} <= tables:
        raise BackupError(f"{name} is not a tui-pos database (no tui-pos tables); nothing was changed")
    version = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] or 0
    newest = ""
    for table, column in ACTIVITY:
        if table in tables:
            value = conn.execute(f'SELECT MAX("{column}") FROM "{table}"').fetchone()[0]
            if value and str(value) > newest:
                newest = str(value)
    notes = conn.execute("SELECT COUNT(*) FROM note").fetchone()[0]
    return Facts(version, newest, notes)


def backup(url: str, target: str) -> str:
    """A consistent copy while registers keep selling; returns where it was written."""
    dest = _writable_target(target)
    if is_sqlite():
        tmp = dest.with_name(f".{dest.name}.partial")
        try:
            out = sqlite3.connect(str(tmp))
            try:
                db.connection().backup(out)
                out.execute("PRAGMA journal_mode=DELETE")   # one self-contained file, no -wal beside it
                verdict = out.execute("PRAGMA integrity_check").fetchone()[0]
                if verdict != "ok":
                    raise BackupError(f"the copy failed its integrity check ({verdict}); nothing was kept")
            finally:
                out.close()
            os.replace(tmp, dest)
        except OSError as exc:
            raise BackupError(f"cannot write {dest}: {exc.strerror or exc}") from None
        finally:
            if tmp.exists():
                tmp.unlink()
        return str(dest)
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed on this machine: install postgresql-client "
                          "(the same major version as the server)")
    tmp = dest.with_name(f".{dest.name}.partial")
    schema = _schema_of(url)
    done = subprocess.run(["pg_dump", "--format=custom", "--file", str(tmp),
                           *([f"--schema={schema}"] if schema else []), _libpq_url(url)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if tmp.exists():
            tmp.unlink()
        raise BackupError("pg_dump failed: " + " ".join(done.stderr.split())[:300])
    os.replace(tmp, dest)
    return str(dest)


def _schema_of(url: str) -> str | None:
    """The schema a URL puts tui-pos in (`?options=-c search_path=NAME`): only it is dumped, not the other
    schemas of the database (another application's, or ones created and dropped while the dump runs)."""
    from urllib.parse import parse_qs, urlsplit
    for options in parse_qs(urlsplit(url).query).get("options", []):
        found = re.search(r"search_path\s*=\s*([A-Za-z_][A-Za-z0-9_]*)", options)
        if found:
            return found.group(1)
    return None


def _libpq_url(url: str) -> str:
    """peewee's URL schemes as libpq takes them."""
    for scheme in ("postgresql+pool://", "psycopg3://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme):]
    return url


def restore(url: str, source: str, *, force: bool = False) -> str:
    """Put a backup back in place of this register's SQLite database.

    Refused (nothing changed) when the file is not a tui-pos database, comes
    from a newer tui-pos, or is older than the database it would replace
    (unless `force`). The database being replaced is kept beside it first.
    Returns a line saying what was done.
    """
    if not is_sqlite():
        raise BackupError("this register uses PostgreSQL: restore with "
                          "`pg_restore --clean --if-exists -d URL FILE` with the registers stopped "
                          "(docs/operations.md)")
    src = Path(source).expanduser()
    if not src.is_file():
        raise BackupError(f"{src} does not exist or is not a file")
    try:
        incoming = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {src}: {exc}") from None
    try:
        theirs = facts_of(incoming, str(src))
        if theirs.version > LATEST:
            raise BackupError(f"{src} comes from a newer tui-pos (schema {theirs.version}, this one knows "
                              f"{LATEST}): upgrade tui-pos first; nothing was changed")
        live = db.connection()
        ours = facts_of(live, "the current database")
        if ours.newest > theirs.newest and not force:
            raise BackupError(f"the current database is newer than {src} (its last activity {ours.newest[:19]}, "
                              f"the backup's {theirs.newest[:19] or 'none'}); restoring would lose that. "
                              "Add --force to restore anyway (the current one is kept beside it)")
        keep = Path(db.obj.database)
        stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
        kept = keep.with_name(f"{keep.stem}.before-restore-{stamp}{keep.suffix}")
        n = 1
        while kept.exists():
            n += 1
            kept = keep.with_name(f"{keep.stem}.before-restore-{stamp}-{n}{keep.suffix}")
        saved = sqlite3.connect(str(kept))
        try:
            live.backup(saved)
            saved.execute("PRAGMA journal_mode=DELETE")
        finally:
            saved.close()
        incoming.backup(live)   # page by page under the database's lock: other connections see the restored one
    finally:
        incoming.close()
    from tui_pos.models.migrations import migrate
    applied = migrate(db.obj)
    note = f", brought up to schema {LATEST}" if applied else ""
    return f"restored {src} ({theirs.notes} notes, last activity {theirs.newest[:19] or 'none'}){note}; " \
           f"the database it replaced is kept as {kept}"


def daily(url: str, directory: str, keep: int, register: str, label: str) -> str:
    """The close-of-day copy into `directory`, keeping the newest `keep` of them; returns the file."""
    folder = Path(directory).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup directory {folder}: {exc.strerror or exc}") from None
    suffix = ".db" if is_sqlite() else ".dump"
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    where = backup(url, str(folder / f"tui-pos-{register}-{stamp}-{label}{suffix}"))
    mine = sorted(folder.glob(f"tui-pos-{register}-*{suffix}"))
    for old in mine[:-keep]:
        old.unlink()
    return where


@dataclass(frozen=True)
class DailyBackup:
    """Where the copy after each Z goes ([backup]); built once in bootstrap."""

    url: str
    """The database copied."""
    directory: str
    """`[backup] dir` ("": no daily copy)."""
    keep: int
    """How many daily copies are kept."""

    def after_close(self, register: str, z_number: int) -> str:
        """The copy after Z #z_number: one line saying what happened (never raises)."""
        return after_close(self.url, self.directory, self.keep, register, z_number)


def after_close(url: str, directory: str, keep: int, register: str, z_number: int) -> str:
    """The daily copy after a Z, when [backup] dir is set: one line saying what happened (never raises:
    the day is closed whatever becomes of its backup)."""
    import logging
    log = logging.getLogger(__name__)
    if not directory:
        return "no daily backup: [backup] dir is not set"
    try:
        return f"daily backup written to {daily(url, directory, keep, register, f'Z{z_number}')}"
    except BackupError as exc:
        log.error("daily backup failed: %s", exc)
        return f"daily backup FAILED: {exc}"
    except Exception as exc:
        log.exception("daily backup failed")
        return f"daily backup FAILED ({type(exc).__name__}: {exc}); the day is closed all the same"


__all__ = ["after_close", "BackupError", "DailyBackup", "Facts", "backup", "daily", "facts_of", "restore"]

"""Support checks: `tui-pos doctor` and the support screen.

Each check gives one line, OK / WARN / FAIL, with what was found and, when
something is wrong, what to do. FAIL means the register cannot work as it
should (exit status 1); WARN means it works but someone should look.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tui_pos.config import Config

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    level: str      # OK | WARN | FAIL
    name: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.level != FAIL

    def line(self) -> str:
        return f"{self.level:<4} {self.name}: {self.detail}"


def config_checks(cfg: Config) -> list[Check]:
    out = [Check(OK, "config", f"read from {cfg.source}" if cfg.source != "defaults"
                 else "no config file found: every key at its default (see config.toml)")]
    if cfg.backup.dir:
        folder = os.path.expanduser(cfg.backup.dir)
        problem = folder_problem(folder, create=True)
        if problem:
            out.append(Check(FAIL, "backup dir", f"{problem}: no daily backup can be written; fix it or change "
                                                 "[backup] dir"))
        elif os.path.isdir(folder):
            out.append(Check(OK, "backup dir", f"{folder}, keeping {cfg.backup.keep}"))
        else:
            out.append(Check(WARN, "backup dir", f"{folder} does not exist yet; the first close of day creates it"))
    else:
        out.append(Check(WARN, "backup dir", "[backup] dir is not set: no daily backup at close of day"))
    return out


def folder_problem(folder: str, *, create: bool) -> str | None:
    """Why files cannot be written in `folder` (None: they can), tried for real (a file made and removed:
    permission bits do not tell root, or a read-only mount, anything). With `create`, a missing folder is
    fine when its nearest existing parent takes one (it is made on first use); without, it is the problem."""
    import tempfile
    from pathlib import Path
    where = Path(folder)
    if not where.exists():
        if not create:
            return f"the folder {folder} does not exist"
        where = next((p for p in where.parents if p.exists()), Path("/"))
    if not where.is_dir():
        return f"{where} is a file, not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=where, prefix=".tui-pos-probe-"):
            pass
    except OSError as exc:
        return f"{where} cannot be written by this user ({exc.strerror or exc})"
    return None


def database_checks(cfg: Config, url: str) -> list[Check]:
    """Schema, integrity, receipt numbering and loyalty balances (the database must be bound)."""
    from tui_pos.models import Note, PrintJob, Register, db
    from tui_pos.models.db import is_sqlite, safe_url
    from tui_pos.models.migrations import LATEST, applied_versions
    from tui_pos.services.loyalty import ledger_mismatches

    out = [Check(OK, "database", safe_url(url))]
    if "schema_migrations" not in db.obj.get_tables():   # looked at, never created: the doctor changes nothing
        out.append(Check(FAIL, "schema", "the database has no tui-pos tables yet: run `tui-pos init` once"))
        return out
    versions = applied_versions(db.obj)
    current = versions[-1] if versions else 0
    if current == LATEST:
        out.append(Check(OK, "schema", f"version {current} (latest)"))
    elif current < LATEST:
        out.append(Check(FAIL, "schema", f"version {current}, this tui-pos needs {LATEST}: run `tui-pos init`"))
        return out
    else:
        out.append(Check(FAIL, "schema", f"version {current} is newer than this tui-pos ({LATEST}): upgrade it"))
        return out
    if is_sqlite():
        verdict = db.execute_sql("PRAGMA integrity_check").fetchone()[0]
        out.append(Check(OK if verdict == "ok" else FAIL, "integrity",
                         "ok" if verdict == "ok" else f"{verdict}: restore the last backup (tui-pos restore)"))
        mode = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
        out.append(Check(OK if mode == "wal" else WARN, "journal mode",
                         mode if mode == "wal" else f"{mode} (expected wal: readers then block writers)"))
    else:
        out.extend(server_setting_checks())
    for reg in Register.select():
        seqs = [n.seq for n in Note.select(Note.seq).where(Note.register == reg.id, Note.seq.is_null(False))
                .order_by(Note.seq)]
        expected = list(range(1, reg.next_seq))
        out.append(Check(OK if seqs == expected else FAIL, f"receipt numbers {reg.code}",
                         f"{len(seqs)} receipts, gapless" if seqs == expected
                         else f"gap or duplicate: {len(seqs)} receipts, counter at {reg.next_seq}"))
    wrong = ledger_mismatches()
    out.append(Check(FAIL if wrong else OK, "loyalty balances",
                     "every balance equals the sum of its ledger" if not wrong
                     else f"{len(wrong)} differ from their ledger, e.g. {wrong[0][0]}: balance {wrong[0][1]}, "
                          f"ledger {wrong[0][2]}"))
    out += _negative_balances()
    out += _repeated_ledger_rows()
    stuck = PrintJob.select().where(PrintJob.state == "waiting", PrintJob.attempts >= 3).count()
    waiting = PrintJob.select().where(PrintJob.state == "waiting").count()
    out.append(Check(WARN if stuck else OK, "print queue",
                     f"{waiting} waiting" + (f", {stuck} failed 3 times or more: check the printer" if stuck else "")))
    from tui_pos.models import Message
    failed = Message.select().where(Message.state == "failed").count()
    queued = Message.select().where(Message.state == "queued").count()
    out.append(Check(WARN if failed else OK, "messages",
                     f"{queued} queued, {failed} failed" + (": see `tui-pos messages list --state failed`"
                                                            if failed else "")))
    open_notes = Note.select().where(Note.status == "open").count()
    out.append(Check(OK, "open notes", str(open_notes)))
    out += fiscal_checks(cfg)
    from tui_pos.services.users import users_exist
    if not users_exist():   # the register refuses to open (bootstrap.build): say so before anyone tries
        out.append(Check(WARN, "users", "none: the register does not open until one is added with "
                                        "`tui-pos user add NAME --role manager`"))
    return out


# PostgreSQL settings a store's server needs: (name, the good values, level otherwise, what it means)
_SERVER_SETTINGS = (
    ("fsync", ("on",), FAIL, "a power cut can corrupt the database and lose sales: set fsync = on"),
    ("synchronous_commit", ("on", "local", "remote_write", "remote_apply"), WARN,
     "a sale the cashier saw completed can vanish if the server crashes: set synchronous_commit = on"),
    ("full_page_writes", ("on",), WARN, "a crash mid-write can leave torn pages: set full_page_writes = on"),
    ("autovacuum", ("on",), WARN,
     "old row versions pile up and the planner has no statistics, so every sale gets slower as the "
     "store sells: set autovacuum = on (or run VACUUM ANALYZE every night)"),
)


def server_setting_checks() -> list[Check]:
    """The PostgreSQL server's durability and upkeep settings (read with SHOW: any user may)."""
    from tui_pos.models import db
    out = []
    for name, good, level, meaning in _SERVER_SETTINGS:
        value = db.execute_sql(f"SHOW {name}").fetchone()[0]
        out.append(Check(OK, f"server {name}", value) if value in good
                   else Check(level, f"server {name}", f"{value}: {meaning}"))
    return out


def printer_checks(cfg: Config) -> list[Check]:
    from tui_pos.hardware.printer import PrinterError, make_printer
    if cfg.printer.kind == "none":
        return [Check(WARN, "printer", "none configured ([printer] kind = \"none\"): receipts are not printed")]
    if cfg.printer.kind == "file" and cfg.printer.path and not os.path.exists(cfg.printer.path):
        # the file is made on the first receipt, its folder never
        problem = folder_problem(os.path.dirname(os.path.abspath(cfg.printer.path)), create=False)
        if problem:
            return [Check(FAIL, "printer", f"file {cfg.printer.path}: {problem}, so no receipt can be written; "
                                           "fix [printer] path")]
    try:
        printer = make_printer(cfg.printer)
    except PrinterError as exc:
        return [Check(FAIL, "printer", str(exc))]
    try:
        said = printer.status()
    except Exception as exc:  # noqa: BLE001 - any driver error is a finding
        return [Check(FAIL, "printer", f"{printer.describe()}: {exc}")]
    lowered = said.lower()
    if lowered.startswith("cannot") or "offline" in lowered or "paper out" in lowered or "not writable" in lowered:
        level = FAIL
    elif "paper low" in lowered or "unknown" in lowered or "does not report" in lowered:
        level = WARN
    else:
        level = OK
    return [Check(level, "printer", f"{printer.describe()}: {said}")]


def scanner_checks(cfg: Config) -> list[Check]:
    from tui_pos.hardware.scanner import INPUT_DIR, parse_spec
    try:
        import evdev  # noqa: F401
    except ImportError:
        return [Check(WARN, "scanners", "evdev is not available: only keyboard-wedge scanners work")]
    if not cfg.scanner.devices:
        return [Check(OK, "scanners", "none configured: scanners typing as a keyboard work as they are")]
    if not os.path.isdir(INPUT_DIR):
        return [Check(FAIL, "scanners", f"{len(cfg.scanner.devices)} configured but there is no {INPUT_DIR} here")]
    from tui_pos.hardware.scanner import EvdevBackend, matches
    infos = EvdevBackend().devices()
    out = []
    for spec in cfg.scanner.devices:
        parse_spec(spec)
        found = [i for i in infos if matches(spec, i)]
        if not found:
            out.append(Check(FAIL, f"scanner {spec}", "not found: is it plugged in? (`tui-pos scanner list`)"))
        elif not all(i.readable for i in found):
            bad = next(i for i in found if not i.readable)
            out.append(Check(FAIL, f"scanner {spec}", f"{bad.path}: {bad.problem} (udev rule in docs/kiosk.md)"))
        else:
            out.append(Check(OK, f"scanner {spec}", ", ".join(f"{i.path} ({i.name})" for i in found)))
    return out


def fiscal_checks(cfg: Config) -> list[Check]:
    """Electronic invoices (docs/fiscal.md): contingency documents nearing `[fiscal] contingency_hours`
    (the time the DGI gives to send them) and rejected ones, each a WARN naming what to run."""
    if cfg.fiscal.mode != "fe":
        return []
    from tui_pos.services import fiscal
    settings = fiscal.Settings.from_config(cfg.fiscal)
    assert settings is not None       # mode "fe"
    late, rejected = fiscal.overdue(settings)
    by_state = fiscal.counts()
    said = ", ".join(f"{by_state.get(s, 0)} {s}" for s in fiscal.STATES)
    out = [Check(WARN if late or rejected else OK, "electronic invoices", said)]
    if late:
        out.append(Check(WARN, "contingency documents",
                         f"{late} issued in contingency more than {cfg.fiscal.contingency_hours * 3 // 4} hours ago "
                         f"(the DGI's limit: {cfg.fiscal.contingency_hours} h): check the provider, then "
                         "`tui-pos fiscal retry`"))
    from tui_pos.domain.fiscal import ITBMS_RATE_CODES
    from tui_pos.models import Product
    odd = list(Product.select(Product.sku, Product.tax_rate_bp).where(
        Product.active == True, Product.tax_rate_bp.not_in(list(ITBMS_RATE_CODES))).limit(3).tuples())  # noqa: E712
    if odd:
        n = Product.select().where(Product.active == True,  # noqa: E712
                                   Product.tax_rate_bp.not_in(list(ITBMS_RATE_CODES))).count()
        which = ", ".join(f"{sku} {bp / 100:g} %" for sku, bp in odd)
        out.append(Check(WARN, "tax rates", f"{n} product{'s have' if n != 1 else ' has'} a tax rate the DGI has "
                                            f"no code for (0, 7, 10, 15 %), e.g. {which}: their sales cannot be "
                                            "invoiced; correct them (tui-pos import products)"))
    if rejected:
        out.append(Check(WARN, "rejected documents", f"{rejected} rejected: `tui-pos fiscal list --state rejected` "
                                                     "says why; fix it, then `tui-pos fiscal retry RECEIPT`"))
    return out


def audit_chain_checks() -> list[Check]:
    """The audit log's hash chain, verified row by row in id order (streamed: a long log never sits in
    memory); names the first row that breaks it. Nothing before migration 17 (the schema check says so)."""
    from tui_pos.models import db
    from tui_pos.services.audit import broken_text, log_gone, verify_chain
    if (gone := log_gone()) is not None:
        return [Check(FAIL, "audit log", gone)]
    if "audit_log" not in db.obj.get_tables() or "hash" not in {c.name for c in db.obj.get_columns("audit_log")}:
        return []                                     # before migration 17: the schema check says so
    status = verify_chain()
    if status.broken is not None:
        return [Check(FAIL, "audit log", broken_text(status.broken))]
    return [Check(OK, "audit log", status.holds_text(16))]   # a Z report prints the same 16 digits of its row


def run_checks(cfg: Config, url: str, *, hardware: bool = True) -> list[Check]:
    """Every check; the database must be bound already."""
    checks = config_checks(cfg) + database_checks(cfg, url) + audit_chain_checks()
    if hardware:
        checks += printer_checks(cfg) + scanner_checks(cfg)
    return checks


__all__ = ["Check", "OK", "WARN", "FAIL", "run_checks", "config_checks", "database_checks", "folder_problem",
           "printer_checks", "scanner_checks"]


def _negative_balances() -> list[Check]:
    """SPEC: "a return may take a balance below zero, a redemption never". Below zero after a return of
    units whose earning was spent: allowed, and said (WARN). Below zero any other way: FAIL."""
    from tui_pos.models import Customer, LoyaltyMovement
    below = list(Customer.select(Customer.id, Customer.code, Customer.points_balance)
                 .where(Customer.points_balance < 0).order_by(Customer.points_balance))
    if not below:
        return []
    by_return = {m.customer_id for m in LoyaltyMovement.select(LoyaltyMovement.customer).where(
        LoyaltyMovement.customer.in_([c.id for c in below]), LoyaltyMovement.kind == "return",
        LoyaltyMovement.balance_after < 0)}
    odd = [c for c in below if c.id not in by_return]
    out = []
    if odd:
        out.append(Check(FAIL, "negative balances", f"{len(odd)} customers are below 0 points without a return "
                         f"that took them there, e.g. {odd[0].code}: {odd[0].points_balance}; check their ledger "
                         "(F2, the customer, Ctrl+L)"))
    if len(odd) < len(below):
        first = next(c for c in below if c.id in by_return)
        out.append(Check(WARN, "balances below 0 after returns", f"{len(below) - len(odd)} customers, e.g. "
                         f"{first.code}: {first.points_balance} (allowed: they returned what earned points "
                         "they had spent; their next purchases make it up)"))
    return out


def _repeated_ledger_rows() -> list[Check]:
    """Migration 18 keys each ledger row and stamp event of a document once; repeats an older database held
    are kept (a balance is the sum of its ledger) and marked `#dup<id>`: said here until a manager corrects
    them with an adjustment (docs/security.md, "Retries and reprints")."""
    from tui_pos.models import LoyaltyMovement, StampEvent
    moves = list(LoyaltyMovement.select(LoyaltyMovement.key).where(LoyaltyMovement.key.contains("#dup")).limit(3))
    n_moves = LoyaltyMovement.select().where(LoyaltyMovement.key.contains("#dup")).count() if moves else 0
    n_stamps = StampEvent.select().where(StampEvent.key.contains("#dup")).count()
    if not (n_moves or n_stamps):
        return []
    example = f", e.g. {moves[0].key}" if moves else ""
    return [Check(WARN, "repeated ledger rows", f"{n_moves} loyalty movements and {n_stamps} stamp events repeat "
                  f"an earlier one of the same document{example}: check those customers' ledgers (F2, the "
                  "customer, Ctrl+L) and correct them with an adjustment")]


def offline_checks(offline: Any) -> list[Check]:
    """The register's replica and journal (docs/offline.md): what waits to be sent, since when, the last sync,
    and how old the replica is; and the sync's discrepancies (all registers) for the manager."""
    if offline is None:
        return []
    import datetime as _dt

    from tui_pos.models import SyncDiscrepancy
    state = offline.state()
    out: list[Check] = []
    if not state.built:
        out.append(Check(WARN, "offline replica", f"not built yet at {offline.path}: the register builds it when it "
                         "starts (or `tui-pos sync --rebuild`); until then it cannot sell while the server is away"))
    else:
        refreshed = _dt.datetime.fromisoformat(state.refreshed_at or state.built_at or "1970-01-01")
        age = _dt.datetime.now(_dt.UTC).replace(tzinfo=None) - refreshed
        minutes = int(age.total_seconds() // 60)
        level = OK if age < _dt.timedelta(hours=1) else WARN
        out.append(Check(level, "offline replica", f"{offline.path}, refreshed {minutes} min ago"
                         + ("" if level == OK else ": is the register running? (`tui-pos sync --now` refreshes it)")))
    if state.failed:
        out.append(Check(WARN, "offline journal refused", f"{state.failed} entries the server refused are kept on "
                         "this register (its replica is not refreshed until they go): `tui-pos sync --problems` "
                         "says why, `tui-pos sync --now` tries them again"))
    if state.pending:
        out.append(Check(WARN, "offline journal", f"{state.pending} entries not on the server ({state.pending_sales} "
                         f"sales/returns), oldest {state.oldest} UTC; last sync {state.synced_at or 'never'}: "
                         "`tui-pos sync --now` sends them"))
    else:
        out.append(Check(OK, "offline journal", f"nothing waiting; last sync {state.synced_at or 'never'}"))
    problems = SyncDiscrepancy.select().count()
    if problems:
        out.append(Check(WARN, "sync discrepancies",
                         f"{problems} for the manager to look at: `tui-pos sync --problems`"))
    return out

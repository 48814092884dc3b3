"""What each `tui-pos` command does. Messages go to stderr, one line, no tracebacks."""

from __future__ import annotations

import logging
import sys
from argparse import Namespace
from typing import Any

from tui_pos.config import Config

log = logging.getLogger("tui_pos.cli")


def _fail(message: str, code: int = 1) -> int:
    print(f"tui-pos: {message}", file=sys.stderr)
    return code


def _open(cfg: Config, args: Namespace, *, upgrade: bool | None = False, create: bool = False):
    from tui_pos.bootstrap import open_database
    from tui_pos.models.db import explain
    from tui_pos.models.migrations import SchemaOutOfDate
    demo = getattr(args, "demo", False)
    try:
        database = open_database(cfg, demo, upgrade=upgrade, create=create)
        if demo and upgrade is not None:
            from tui_pos.services.demo import seed_demo
            seed_demo()  # the demo store is seeded on first use, whatever the command
        return database
    except SchemaOutOfDate as exc:
        raise SystemExit(_fail(str(exc))) from None
    except Exception as exc:  # any driver error becomes one line
        log.exception("cannot open the database")
        raise SystemExit(_fail(f"cannot open the database {explain(exc, cfg.db_url(demo))}")) from None


def run_app(cfg: Config, demo: bool = False) -> int:
    from tui_pos.bootstrap import NoUsers, build
    from tui_pos.models.db import explain
    from tui_pos.models.migrations import SchemaOutOfDate
    from tui_pos.userkeys import check
    try:
        check(cfg.keys)        # [keys]: an unknown binding id or a clash is said before anything opens
    except ValueError as exc:
        return _fail(f"config: {cfg.source}: {exc}")
    try:
        runtime = build(cfg, demo=demo)
    except SystemExit:
        raise
    except (SchemaOutOfDate, NoUsers) as exc:   # no database, no tables, no user: said before any screen
        return _fail(f"cannot start: {exc}")
    except Exception as exc:
        log.exception("start-up failed")
        return _fail(f"cannot start: {explain(exc, cfg.db_url(demo))}")
    from tui_pos.app import PosApp
    app = PosApp(runtime)
    app.run()
    return app.return_code or 0


def run_support(cfg: Config, demo: bool = False) -> int:
    """`tui-pos --support`: the diagnostics screen, beside a running register."""
    from tui_pos.bootstrap import build_support, setup_logging
    from tui_pos.models.db import explain
    from tui_pos.models.migrations import SchemaOutOfDate
    try:
        runtime = build_support(cfg, demo=demo)
    except SchemaOutOfDate as exc:
        return _fail(f"support: {exc}")
    except Exception as exc:
        log.exception("support mode could not start")
        return _fail(f"support: cannot open the database {explain(exc, cfg.db_url(demo))}; "
                     "`tui-pos doctor` says more")
    from tui_pos.app import SupportApp
    SupportApp(runtime, setup_logging()).run()
    return 0


def cmd_init(cfg: Config, args: Namespace) -> int:
    from tui_pos.models.migrations import LATEST, migrate
    database = _open(cfg, args, upgrade=None, create=True)  # the one command that makes a database; migrated here
    try:
        applied = migrate(database)
    except Exception as exc:
        log.exception("migration failed")
        return _fail(f"the schema could not be brought up to date ({exc}); nothing was changed by the failed step")
    print(f"schema at version {LATEST}" + (f" (applied {applied})" if applied else "; nothing to do"))
    return 0


def cmd_import(cfg: Config, args: Namespace) -> int:
    from tui_pos.domain.errors import PosError
    from tui_pos.progress import bar
    from tui_pos.services import catalog, customers, loyalty
    _open(cfg, args)
    try:
        if args.what == "products":
            with bar(f"Importing {args.file}") as progress:    # on a terminal, after a second's work
                r = catalog.import_products(args.file, update=args.update, allow_large=args.allow_large,
                                            progress=progress)
            created, updated, unchanged = r.created, r.updated, r.unchanged
        elif args.what == "loyalty":
            prog = loyalty.import_program(args.file, sales_modes=cfg.sale.sales_modes, convert=args.convert)
            print(f"{args.file}: {prog.mode} program with {len(prog.tiers)} tiers, {len(prog.sections)} section "
                  f"rates and {len(prog.presets)} presets, shared by every register")
            return 0
        else:
            with bar(f"Importing {args.file}") as progress:
                created, updated, unchanged = customers.import_customers(
                    args.file, region=cfg.store.phone_region, update=args.update, progress=progress,
                    opening_balances=loyalty.opening_balances)    # every opening balance at once
    except PosError as exc:
        return _fail(f"import {args.what}: {exc}; nothing was written")
    except Exception as exc:  # a file no rule foresaw is still one line, and logged for a fix
        log.exception("import %s %s failed", args.what, args.file)
        return _fail(f"import {args.what}: {args.file}: cannot be imported ({type(exc).__name__}; logged); "
                     "nothing was written")
    print(f"{args.file}: {created} created, {updated} updated, {unchanged} unchanged")
    return 0


def cmd_loyalty(cfg: Config, args: Namespace) -> int:
    from tui_pos.services import loyalty_jobs
    _open(cfg, args)
    if args.action == "stats":
        from tui_pos.domain.money import MoneyFormat
        from tui_pos.services import loyalty_admin
        s = loyalty_admin.statistics()
        money = MoneyFormat(cfg.store.currency, cfg.store.locale)
        print(f"enrolled customers: {s.enrolled} of {s.customers}")
        print("by tier: " + ", ".join(f"{name} {count}" for name, count in s.by_tier))
        print(f"outstanding points: {s.outstanding_points} (liability {money(s.liability_cents)})")
        print("month    issued  redeemed")
        for month, issued, redeemed in s.months:
            print(f"{month}  {issued:>7}  {redeemed:>8}")
        print("most points: " + ", ".join(f"{code} {earned}" for code, _, _, earned in s.most_active))
        return 0
    touched, total = loyalty_jobs.expire_all()
    print(f"{total} points expired for {touched} customers")
    return 0


def cmd_report(cfg: Config, args: Namespace) -> int:
    if args.what in ("x", "z"):
        return _day_report(cfg, args)
    if args.what == "stores":
        return _store_report(cfg, args)
    import csv

    from tui_pos.domain.errors import PosError
    from tui_pos.services import loyalty_admin
    _open(cfg, args)
    try:
        rows = loyalty_admin.report_rows(date_from=args.date_from, date_to=args.date_to, tier=args.tier,
                                         group=args.group)
    except PosError as exc:
        return _fail(f"report loyalty: {exc}", 2)
    columns = loyalty_admin.REPORT_COLUMNS
    if args.csv:  # streamed: a million customers never sit in memory
        sys.stdout.flush()
        with open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", buffering=1 << 20,
                  closefd=False) as out:  # UTF-8 whatever the locale, written in large blocks
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            from tui_pos.domain.text import csv_cell  # a name "=HYPERLINK(...)" is text in a spreadsheet
            writer.writerows((csv_cell(code), csv_cell(name), csv_cell(phone), *rest)
                             for code, name, phone, *rest in rows)
        return 0
    table = [columns] + [[str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0


def _store_report(cfg: Config, args: Namespace) -> int:
    """`report stores`: each store's sales and the chain's (issue 24), money as the store writes it."""
    from tui_pos.domain.errors import PosError
    from tui_pos.domain.money import MoneyFormat
    from tui_pos.services import chain
    _open(cfg, args)
    money = MoneyFormat(cfg.store.currency, cfg.store.locale)
    try:
        rows = chain.store_sales(args.date_from, args.date_to)
    except PosError as exc:
        return _fail(f"report stores: {exc}", 2)
    table = [["store", "registers", "sales", "returns", "net", "customers", "points earned", "points used"]]
    table += [[r.store if r.store != "*" else "CHAIN", str(r.registers), str(r.sales), str(r.returns),
               money.plain(r.net_cents), str(r.customers), str(r.points_earned), str(r.points_used)] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))).rstrip())
    return 0


def _day_report(cfg: Config, args: Namespace) -> int:
    """`report x` (the day so far) and `report z` (close it; `--number N` shows an earlier one)."""
    from tui_pos.domain import dayreport
    from tui_pos.domain.errors import PosError
    from tui_pos.domain.money import MoneyFormat, parse_money
    from tui_pos.services import dayclose
    _open(cfg, args)
    register = cfg.store.register
    money = MoneyFormat(cfg.store.currency, cfg.store.locale)
    float_cents = parse_money(cfg.sale.opening_float, "opening float")
    try:
        if args.what == "x":
            report = dayclose.x_report(register, opening_float_cents=float_cents)
        elif args.number is not None:
            report = dayclose.z_report(register, args.number)
        else:
            counted = parse_money(args.counted, "cash counted") if args.counted is not None else None
            offline = _offline(cfg)
            unsynced = offline.pending_sales() if offline is not None else 0
            report = dayclose.close_day(register, counted, opening_float_cents=float_cents, unsynced=unsynced,
                                        force=args.force)
    except PosError as exc:
        return _fail(f"report {args.what}: {exc}", 2)
    print(dayreport.as_text(dayreport.layout(report, cfg.printer.columns, money.plain)))
    if args.print_it:
        if cfg.printer.kind == "none":
            return _fail("--print: no printer configured ([printer] kind)", 2)
        dayclose.queue_print(register, report, cfg.printer.columns, money.plain)
        print("queued on the printer: the register prints it next")
    if args.what == "z" and args.number is None:
        from tui_pos.services.backup import after_close
        print(after_close(cfg.db_url(args.demo), cfg.backup.dir, cfg.backup.keep, register, report.number))
    return 0


def cmd_export(cfg: Config, args: Namespace) -> int:
    from tui_pos.services import customers
    _open(cfg, args)
    if args.what == "loyalty":
        from tui_pos.domain.errors import PosError
        from tui_pos.services import loyalty_admin
        try:
            text = loyalty_admin.program_text()
        except PosError as exc:
            return _fail(str(exc))
        if args.file == "-":
            sys.stdout.write(text)
            return 0
        try:
            with open(args.file, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            return _fail(f"cannot write {args.file}: {exc.strerror or exc}")
        print(f"loyalty program written to {args.file}", file=sys.stderr)
        return 0
    from tui_pos.progress import bar
    if args.file == "-":
        count = customers.export_customers(sys.stdout)     # standard output is the data: no bar
    else:
        try:
            with open(args.file, "w", newline="", encoding="utf-8") as out, \
                    bar(f"Exporting to {args.file}") as progress:
                count = customers.export_customers(out, progress=progress)
        except OSError as exc:
            return _fail(f"cannot write {args.file}: {exc.strerror or exc}")
    print(f"{count} customers exported", file=sys.stderr)
    return 0


def cmd_rate(cfg: Config, args: Namespace) -> int:
    from tui_pos.domain.errors import PosError
    from tui_pos.services import prices
    _open(cfg, args)
    try:
        if args.rate_command == "add":
            code = prices.set_rate(args.code, args.name, start=args.start, end=args.end, active=not args.disabled)
            print(f"rate {code} saved")
        elif args.rate_command == "set":
            print(prices.set_rate_line(args.code, args.sku, args.price))
        elif args.rate_command == "remove":
            print(prices.remove_rate_line(args.code, args.sku))
        elif args.rate_command == "list":
            for r in prices.rates():
                when = f"{r.start or 'always'} to {r.end or 'further notice'}"
                print(f"{r.code}\t{r.name}\t{'active' if r.active else 'disabled'}\t{when}\t{r.lines} products")
        else:
            rate, lines = prices.rate_lines(args.code)
            print(f"rate {rate.code} ({rate.name}), {'active' if rate.active else 'disabled'}, "
                  f"{rate.start or 'always'} to {rate.end or 'further notice'}")
            for ln in lines:
                print(f"{ln.sku}\t{ln.name}\tretail {ln.retail_cents / 100:.2f}\t{ln.text}")
            if not lines:
                print("(no products: its customers pay what anyone pays)")
    except PosError as exc:
        return _fail(str(exc))
    return 0


def cmd_special(cfg: Config, args: Namespace) -> int:
    from tui_pos.domain.errors import PosError
    from tui_pos.services import prices
    _open(cfg, args)
    try:
        print(prices.add_specific_price(args.sku, args.price, start=args.start, end=args.end))
    except PosError as exc:
        return _fail(str(exc))
    return 0


def cmd_store_price(cfg: Config, args: Namespace) -> int:
    """`tui-pos store-price SKU PRICE --store CODE` (or --remove); no SKU: the store prices."""
    from tui_pos.domain.errors import PosError
    from tui_pos.services import prices
    _open(cfg, args)
    try:
        if not args.sku:
            rows = prices.store_prices(args.store or None)
            for r in rows:
                print(f"{r.store:<10} {r.sku:<14} {r.price_cents / 100:>9.2f}  (retail {r.retail_cents / 100:.2f})  "
                      f"{r.name}")
            print(f"{len(rows)} store prices" if rows else "no store prices: every store sells at retail")
            return 0
        if not args.store:
            return _fail("store-price needs --store CODE", 2)
        if args.remove == (args.price is not None):
            return _fail("store-price: give a price, or --remove", 2)
        print(prices.set_store_price(args.sku, args.store, None if args.remove else args.price))
    except PosError as exc:
        return _fail(str(exc))
    return 0


def cmd_group(cfg: Config, args: Namespace) -> int:
    from tui_pos.domain.errors import PosError
    from tui_pos.domain.money import parse_percent_bp
    from tui_pos.services import customers
    _open(cfg, args)
    try:
        if args.group_command == "set":
            customers.set_group(args.name, parse_percent_bp(args.discount, "discount"))
        elif args.group_command == "rename":
            customers.rename_group(args.old, args.new)
        elif args.group_command == "delete":
            n = customers.delete_group(args.name)
            print(f"group {args.name} deleted; {n} customers left it")
        for name, bp in customers.groups():
            print(f"{name}\t{bp / 100:g}%")
    except PosError as exc:
        return _fail(str(exc))
    return 0


def cmd_user(cfg: Config, args: Namespace) -> int:
    from tui_pos.domain.errors import PosError
    from tui_pos.services import users
    _open(cfg, args)
    if args.user_command == "unlock":
        n = users.unlock(args.register)
        print(f"PIN prompts unlocked ({n} register{'' if n == 1 else 's'} had a count or a lock)")
        return 0
    if sys.stdin.isatty():
        import getpass
        pin = getpass.getpass("PIN: ")
        if getpass.getpass("PIN again: ") != pin:
            return _fail("the two PINs differ; nothing was saved")
    else:
        pin = sys.stdin.readline().strip()
    try:
        person = users.add_user(args.name, args.role, pin, min_length=cfg.security.pin_length)
    except PosError as exc:
        return _fail(str(exc))
    print(f"user {person.name} added as {person.role}")
    return 0


def cmd_printer(cfg: Config, args: Namespace) -> int:
    if args.action == "test":
        return _printer_test(cfg)
    from tui_pos.domain.errors import PosError
    from tui_pos.services import printing
    _open(cfg, args)
    register = cfg.store.register
    if args.action == "reprint":
        if not args.receipt:
            return _fail("printer reprint needs a receipt number, e.g. tui-pos printer reprint R1-000042", 2)
        from tui_pos.bootstrap import sale_service
        try:
            number = sale_service(cfg).reprint(args.receipt)
        except PosError as exc:
            return _fail(str(exc))
        print(f"{number} queued; the register prints it next ({printing.waiting(register)} waiting)")
        return 0
    jobs = printing.queue(register)
    print(f"{printing.waiting(register)} receipts waiting on {register}")
    for job in jobs:
        line = f"{job['id']:>6}  {job['receipt_no'] or '':<12} {job['state']:<8} attempts {job['attempts']}"
        if job["reprint"]:
            line += "  (copy)"
        if job["state"] == "waiting" and job["last_error"]:
            line += f"  last error: {job['last_error']}"
        print(line)
    return 0


def _printer_test(cfg: Config) -> int:
    from tui_pos.hardware.printer import PrinterError, make_printer
    from tui_pos.services.printing import PaperOut, capabilities, test_page

    try:
        printer = make_printer(cfg.printer)
    except PrinterError as exc:
        return _fail(str(exc), 2)
    if printer.kind == "none":
        return _fail('no printer configured: set [printer] kind (file, network, usb, serial or cups)', 2)
    print(f"printer: {printer.describe()}, profile {cfg.printer.profile} "
          f"({capabilities(cfg.printer.profile)}), {cfg.printer.columns} columns")
    print(f"it says: {printer.status()}")
    data = test_page(cfg)
    try:
        printer.send(data)
    except (PrinterError, PaperOut) as exc:
        return _fail(f"printer test failed: {exc}")
    print(f"sent a test page ({len(data)} bytes)")
    return 0


def cmd_scanner(cfg: Config, args: Namespace) -> int:
    from tui_pos.hardware.scanner import INPUT_DIR, EvdevBackend, matches
    try:
        import evdev  # noqa: F401
    except ImportError:
        return _fail("evdev is not available on this system (Linux only)")
    import os
    if not os.path.isdir(INPUT_DIR):
        print(f"no {INPUT_DIR} on this machine: no input devices (over SSH or in a container, "
              "scanners typing as a keyboard still work)")
        return 0
    infos = EvdevBackend().devices()
    if not infos:
        print(f"no input devices under {INPUT_DIR}")
        return 0
    denied = 0
    for info in infos:
        if not info.readable:
            denied += 1
            print(f"{info.path}\t{info.problem}")
            continue
        if not info.has_enter:
            continue  # mice, power buttons, lid switches: cannot scan
        configured = [spec for spec in cfg.scanner.devices if matches(spec, info)]
        note = f"\tconfigured as {configured[0]!r}" if configured else ""
        print(f"{info.path}\t{info.name}\tusb:{info.usb_id}{note}")
    if denied:
        print(f"{denied} devices are not readable by this user: add the udev rule from the README "
              "(docs/hardware.md), or run as a member of the scanner's group")
    return 0


def cmd_doctor(cfg: Config, args: Namespace) -> int:
    """One line per check, OK / WARN / FAIL; exit 1 when anything FAILs."""
    from tui_pos.bootstrap import NoDatabase, open_database
    from tui_pos.models.db import explain
    from tui_pos.models.migrations import SchemaOutOfDate
    from tui_pos.services.health import FAIL, Check, config_checks, database_checks, printer_checks, scanner_checks
    url = cfg.db_url(args.demo)
    checks = config_checks(cfg)
    try:
        open_database(cfg, args.demo, upgrade=None)  # as it is: the doctor never migrates, never creates
        checks += database_checks(cfg, url)
        from tui_pos.services.health import audit_chain_checks
        checks += audit_chain_checks()
        from tui_pos.services.health import offline_checks
        checks += offline_checks(_offline(cfg))
    except NoDatabase as exc:
        checks.append(Check(FAIL, "database", str(exc)))
    except SchemaOutOfDate as exc:
        checks.append(Check(FAIL, "schema", str(exc)))
    except Exception as exc:  # an unreachable or unreadable database is a finding, not a crash
        log.exception("doctor: database check failed")
        checks.append(Check(FAIL, "database", f"cannot open it: {explain(exc, url)}"))
    checks += printer_checks(cfg) + scanner_checks(cfg)
    for check in checks:
        print(check.line())
    failed = sum(c.level == FAIL for c in checks)
    print(f"{len(checks)} checks: {failed} failed, {sum(c.level == 'WARN' for c in checks)} warnings")
    return 1 if failed else 0


def _offline(cfg: Config) -> Any:
    """This register's replica and journal, on PostgreSQL with `[offline] enabled` (None otherwise)."""
    from tui_pos.bootstrap import offline_service, sale_service
    from tui_pos.models import db
    return offline_service(cfg, db.obj, sale_service(cfg))


def cmd_sync(cfg: Config, args: Namespace) -> int:
    """`tui-pos sync`: the journal and replica of this register (docs/offline.md)."""
    from tui_pos.models import SyncDiscrepancy
    from tui_pos.services.offline.replica import JournalPending
    _open(cfg, args)
    if args.problems:
        rows = list(SyncDiscrepancy.select().order_by(SyncDiscrepancy.id))
        for r in rows:
            points = f" points asked {r.points_asked}, taken {r.points_taken}" if r.kind == "overrun" else ""
            print(f"{r.at:%Y-%m-%d %H:%M}  {r.register:<6} {r.kind:<16} {r.receipt_no:<12}{points}  {r.detail}")
        print(f"{len(rows)} discrepancies" if rows else "no discrepancies")
        return 0
    offline = _offline(cfg)
    if offline is None:
        return _fail("no replica here: offline selling is for a register on PostgreSQL with [offline] enabled", 2)
    try:
        if args.rebuild:
            if offline.state().selling:
                return _fail("the register is selling offline on this replica: stop it first", 2)
            if offline.state().pending or offline.state().failed:
                return _fail("the journal has entries not on the server: `tui-pos sync --now` first", 2)
            built = offline.build(progress=None)
            print(f"replica built in {built.seconds:.1f} s: "
                  + ", ".join(f"{n} {t}" for t, n in built.rows.items() if n))
        if args.now:
            offline.retry_failed()
            report = offline.sync()
            print(f"sent {report.sent} entries ({report.sales} sales, {report.returns} returns, {report.customers} "
                  f"customers); {report.already} were already on the server; {report.discrepancies} discrepancies; "
                  f"{report.failed} refused (kept here, see --problems); {report.seconds:.2f} s")
            refreshed = offline.cycle()
            if refreshed is None and offline.state().selling:
                print("the register is selling offline on this replica: it tidies and refreshes it itself")
            if refreshed is not None:
                print(f"replica refreshed: {refreshed.changed} rows changed, {refreshed.removed} removed, "
                      f"{refreshed.seconds:.2f} s")
    except JournalPending as exc:
        return _fail(f"sync: {exc}", 1)
    state = offline.state()
    print(f"replica {offline.path}: " + (f"built {state.built_at} UTC, refreshed {state.refreshed_at} UTC"
                                         if state.built else "not built yet (`tui-pos sync --rebuild`)"))
    print(f"journal: {state.pending} pending ({state.pending_sales} sales/returns)"
          + (f", {state.failed} refused by the server" if state.failed else "")
          + (f", oldest {state.oldest} UTC" if state.oldest else "")
          + f"; last sync {state.synced_at or 'never'} UTC")
    return 1 if state.pending or state.failed else 0


def cmd_migrate_to(cfg: Config, args: Namespace) -> int:
    from tui_pos.models.db import safe_url
    from tui_pos.services.transfer import TransferError, migrate_to
    _open(cfg, args)
    source = cfg.db_url(args.demo)
    if not source.startswith("sqlite"):
        return _fail(f"migrate-to copies a SQLite database; this register uses {safe_url(source)}")
    try:
        report = migrate_to(args.url)
    except TransferError as exc:
        return _fail(f"migrate-to: {exc}")
    except Exception as exc:
        log.exception("migrate-to failed")
        return _fail(f"migrate-to failed ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                     "the target was left as it was")
    shown = {k: v for k, v in report.counts.items() if v}
    print(f"copied into {safe_url(args.url)}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    print(f"checked: every table's row count, {report.customers_checked} customers' balances and ledgers, "
          f"{report.registers_checked} registers' receipt counters")
    print(f'now set [database] url = "{safe_url(args.url)}" on this register (and the others)')
    return 0


def cmd_backup(cfg: Config, args: Namespace) -> int:
    from tui_pos.services.backup import BackupError, backup
    _open(cfg, args)
    try:
        where = backup(cfg.db_url(args.demo), args.file)
    except BackupError as exc:
        return _fail(f"backup: {exc}")
    except Exception as exc:
        log.exception("backup failed")
        return _fail(f"backup failed ({type(exc).__name__}: {exc}); nothing was written")
    print(f"backup written to {where}")
    return 0


def cmd_restore(cfg: Config, args: Namespace) -> int:
    from tui_pos.services.backup import BackupError, restore
    _open(cfg, args)
    try:
        said = restore(cfg.db_url(args.demo), args.file, force=args.force)
    except BackupError as exc:
        return _fail(f"restore: {exc}")
    except Exception as exc:
        log.exception("restore failed")
        return _fail(f"restore failed ({type(exc).__name__}: {exc})")
    print(said)
    return 0


def cmd_kiosk(cfg: Config, args: Namespace) -> int:
    """`kiosk install|uninstall [--user pos] [--tty 1] [--dry-run]` (docs/kiosk.md)."""
    from pathlib import Path

    from tui_pos.services import kiosk
    try:
        if args.action == "uninstall":
            if args.dry_run:
                print("would remove /etc/systemd/system/tui-pos-kiosk.service and every "
                      "getty@tty*.service.d/tui-pos-kiosk.conf, then run systemctl disable and daemon-reload")
                return 0
            for line in kiosk.uninstall(root=args.root):
                print(line)
            return 0
        kiosk.check_tty(args.tty)
        try:
            kiosk.check_user(args.user)
        except kiosk.KioskError as exc:
            if not args.dry_run:
                raise
            print(f"# note: {exc}".replace("; nothing was changed", ""))
        script = Path(sys.executable).with_name("tui-pos")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "tui_pos"]
        config = cfg.source if cfg.source != "defaults" else None
        files = kiosk.render(args.user, args.tty, command, str(Path(config).resolve()) if config else None)
        if args.dry_run:
            for f in files:
                print(f"# ---- {f.path}")
                print(f.text)
            for cmd in kiosk.commands_after_install(args.tty):
                print("# then: " + " ".join(cmd))
            print(f"# (dry run: nothing was written; the register starts on tty{args.tty} at the next boot)")
            return 0
        for line in kiosk.install(files, args.tty, root=args.root):
            print(line)
        print(f"the register starts on tty{args.tty} at the next boot "
              f"(now: sudo systemctl start {kiosk.UNIT_NAME})")
        return 0
    except kiosk.KioskError as exc:
        return _fail(f"kiosk {args.action}: {exc}")


def cmd_fiscal(cfg: Config, args: Namespace) -> int:
    """The fiscal outbox from the command line (docs/fiscal.md)."""
    import time

    from tui_pos.bootstrap import fiscal_settings
    from tui_pos.domain.errors import PosError
    from tui_pos.services import fiscal
    _open(cfg, args)
    try:
        if args.action == "list":
            for r in reversed(fiscal.listing(state=args.state)):
                line = f"{r.point:03d}-{r.number:010d}  {r.receipt_no:<12} {r.kind:<11} {r.state:<11}"
                line += f" {r.cufe}" if r.state == "authorized" else ""
                print(line + (f"  ({r.reason})" if r.reason else ""))
            print(", ".join(f"{k} {v}" for k, v in sorted(fiscal.counts().items())) or "no documents")
            return 0
        if args.action == "show":
            if not args.arg:
                return _fail("fiscal show needs a receipt number (see `tui-pos fiscal list`)", 2)
            print(fiscal.xml_of(args.arg) or "not built yet: `tui-pos fiscal retry` sends (and builds) it")
            return 0
        if args.action == "retry":
            print(f"{fiscal.retry(args.arg or None)} document(s) due now; the register (or `tui-pos fiscal "
                  "send`) sends them")
            return 0
        settings = fiscal_settings(cfg)
        if settings is None:
            return _fail('[fiscal] mode is not "fe": nothing to send', 2)
        provider = settings.provider()
        while True:
            done = fiscal.send_due(settings, provider)
            print(", ".join(f"{k} {v}" for k, v in sorted(done.items())) or "nothing due", flush=True)
            if not args.loop:
                return 0
            time.sleep(args.every)
    except PosError as exc:
        return _fail(str(exc), 2)


def cmd_messages(cfg: Config, args: Namespace) -> int:
    """The outbox from the command line (docs/messages.md)."""
    import time

    from tui_pos.domain.errors import PosError
    from tui_pos.services import messaging
    _open(cfg, args)
    settings = messaging.Settings.from_config(cfg)
    try:
        if args.action == "list":
            for r in reversed(messaging.outbox(state=args.state)):
                when = (r.sent_at or r.created_at).strftime("%Y-%m-%d %H:%M")
                line = f"{r.id:>6}  {when}  {r.state:<7} {r.channel:<5} {r.template:<9} {r.customer}"
                if r.to:
                    line += f"  to {r.to}"
                if r.last_error:
                    line += f"  ({r.last_error})"
                print(line)
            print(", ".join(f"{k} {v}" for k, v in sorted(messaging.counts().items())) or "the outbox is empty")
            return 0
        if args.action == "retry":
            if not args.arg.isdigit():
                return _fail("messages retry needs a message id (see `tui-pos messages list --state failed`)", 2)
            messaging.retry(int(args.arg))
            print(f"message {args.arg} queued again")
            return 0
        if args.action == "triggers":
            done = messaging.run_triggers(settings)
            print(f"queued: {done['birthday']} birthday, {done['expiry']} expiring points")
            return 0
        if args.action == "stop":
            n = messaging.opt_out(args.arg, region=cfg.store.phone_region)
            print(f"{n} customers opted out of marketing messages" if n else f"no customer has {args.arg!r}")
            return 0 if n else 1
        if args.action == "unsubscribe":
            print(f"{messaging.unsubscribe(args.arg, settings)} opted out of marketing messages")
            return 0
        sender = messaging.sender_for(cfg)
        if not sender.ready_channels():
            print("no channel configured ([email] host, [sms] kind = \"http\"): messages stay queued")
            return 0
        sender.recover()
        while True:
            result = sender.send_due()
            print(f"sent {result.sent}, failed {result.failed}, to retry {result.retrying}, "
                  f"waiting {result.waiting}", flush=True)
            for e in result.errors:
                print(f"  {e}", flush=True)
            if not args.loop:
                return 0
            time.sleep(args.every)
    except PosError as exc:
        return _fail(f"messages {args.action}: {exc}")


def cmd_campaign(cfg: Config, args: Namespace) -> int:
    from tui_pos.domain.errors import PosError
    from tui_pos.services import messaging
    _open(cfg, args)
    settings = messaging.Settings.from_config(cfg)
    audience = f"group:{args.group}" if args.group else f"tier:{args.tier}" if args.tier else "all"
    try:
        p = messaging.preview(settings, audience, args.channel, args.text, args.subject)
        print(f"{p.count} customers ({audience}, {args.channel}, with consent and not opted out)")
        if p.count:
            print(f"the first reads: {p.sample}")
        if args.action == "preview" or not p.count:
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                return _fail("campaign send: add --yes to send without being asked", 2)
            if input(f"send to {p.count} customers? [y/N] ").strip().lower() not in ("y", "yes"):
                print("not sent")
                return 1
        cid, n = messaging.send_campaign(settings, audience, args.channel, args.text, args.subject)
        print(f"campaign {cid}: {n} messages queued; the sender sends at most "
              f"{settings.per_minute} a minute")
        return 0
    except PosError as exc:
        return _fail(f"campaign {args.action}: {exc}", 2)


def cmd_portal(cfg: Config, args: Namespace) -> int:
    """`tui-pos portal`: serve the customers' account pages (docs/portal.md) until stopped."""
    from tui_pos.services import portal
    settings = portal.Settings.from_config(cfg)
    if not settings.secret:
        return _fail("the portal needs [messages] secret (or TUI_POS_MESSAGES_SECRET): it signs the account links")
    host, _, port = args.bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return _fail(f"--bind {args.bind!r}: expected HOST:PORT, such as 127.0.0.1:8080")
    _open(cfg, args)
    from tui_pos.portal.app import serve
    print(f"tui-pos portal: listening on http://{args.bind} (public address: {settings.public_url or 'not set'})",
          file=sys.stderr)
    return serve(settings, args.bind)


def cmd_customer(cfg: Config, args: Namespace) -> int:
    from tui_pos.domain.errors import PosError
    from tui_pos.services import customers
    _open(cfg, args)
    try:
        customers.forget(args.code)
    except PosError as exc:
        return _fail(f"customer forget: {exc}")
    print(f"{args.code}: personal data erased; receipts and the ledger are kept, anonymous")
    return 0


# `tui-pos audit` at 80 columns: at, register, user, approver, action, detail (cut with …)
_AUDIT_WIDTHS = (16, 4, 8, 8, 20)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _audit_line(at: str, register: str, user: str, approver: str, action: str, detail: str, columns: int = 80) -> str:
    from tui_pos.domain.text import printable  # what the database holds is shown as text, never terminal codes
    cells = [_cut(printable(v), w).ljust(w) for v, w in zip((at, register, user, approver, action), _AUDIT_WIDTHS)]
    rest = columns - sum(_AUDIT_WIDTHS) - len(_AUDIT_WIDTHS)
    return (" ".join(cells) + " " + _cut(printable(detail), rest)).rstrip()


def cmd_audit(cfg: Config, args: Namespace) -> int:
    """`tui-pos audit`: the log newest first, filtered; `--verify` checks its hash chain (docs/security.md)."""
    import json

    from tui_pos.domain.errors import PosError
    from tui_pos.services import audit
    _open(cfg, args)
    if args.verify:
        if (gone := audit.log_gone()) is not None:
            print(f"audit log: {gone}")
            return 1
        status = audit.verify_chain()
        if status.broken is not None:
            print(f"audit log: {audit.broken_text(status.broken)}")
            return 1
        print(f"audit log: {status.holds_text()}")
        return 0
    if args.limit < 0:
        return _fail("audit: --limit is a number of rows, 0 for all", 2)
    try:
        entries = audit.listing(user=args.user, action=args.action, day=args.day, limit=args.limit or None)
    except PosError as exc:
        return _fail(f"audit: {exc}", 2)

    def at_text(e, fmt: str) -> str:
        return e.at.strftime(fmt) if not isinstance(e.at, str) else e.at

    if args.csv:
        import csv

        from tui_pos.domain.text import csv_cell  # an action "=HYPERLINK(...)" is text in a spreadsheet
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["id", "at", "register", "user", "approver", "action", "detail", "hash"])
        writer.writerows([e.id, at_text(e, "%Y-%m-%d %H:%M:%S"), csv_cell(e.register), csv_cell(e.user),
                          csv_cell(e.approver), csv_cell(e.action),
                          csv_cell(json.dumps(e.detail, sort_keys=True, ensure_ascii=False)), e.hash]
                         for e in entries)
        return 0
    shown = 0
    for e in entries:
        if not shown:
            print(_audit_line("at", "reg", "user", "approver", "action", "detail"))
        detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
        print(_audit_line(at_text(e, "%Y-%m-%d %H:%M"), e.register, e.user, e.approver, e.action, detail))
        shown += 1
    if not shown:
        print("no audit rows match")
    return 0


def cmd_keys(cfg: Config, args: Namespace) -> int:
    """`tui-pos keys`: the binding ids `[keys]` can rebind, with the keys in force."""
    from tui_pos.userkeys import check, listing
    try:
        keymap = check(cfg.keys)
    except ValueError as exc:
        return _fail(f"config: {cfg.source}: {exc}")
    print("\n".join(listing(keymap)))
    return 0

"""The composition root: logging, database, services and hardware, wired once."""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_pos.config import Config, data_dir
from tui_pos.domain.money import MoneyFormat
from tui_pos.models import db as db_proxy
from tui_pos.models.db import bind
from tui_pos.models.migrations import SchemaOutOfDate, migrate
from tui_pos.services.sales import SaleService

if TYPE_CHECKING:   # the printer, scanners and spooler are imported when built, off the path to the first screen
    from peewee import Database

    from tui_pos.hardware.printer import Printer
    from tui_pos.hardware.scanner import Backend, CodeCallback, ScannerHub, StateCallback
    from tui_pos.services.dayclose import DayPlan
    from tui_pos.services.messaging import Sender
    from tui_pos.services.printing import Spooler

log = logging.getLogger("tui_pos")


def _quiet_escpos(record: logging.LogRecord) -> bool:
    """escpos logs every connection opened and closed at INFO on the root logger: keep its warnings only."""
    return not (record.levelno < logging.WARNING and "escpos" in record.pathname.split("site-packages")[-1]
                and record.name == "root")


def setup_logging() -> str:
    """Log to a file in the user data dir, never to the terminal the register draws on.

    Must run before escpos is imported (it calls logging.basicConfig()).
    """
    path = data_dir() / "tui-pos.log"
    root = logging.getLogger()
    if not any(getattr(h, "_tui_pos", False) for h in root.handlers):
        try:
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3,
                                                           encoding="utf-8")
        except OSError as exc:   # a folder by that name, a read-only data dir: one line, not a traceback
            from tui_pos.config import ConfigError
            raise ConfigError(f"cannot write the log {path} ({exc.strerror or exc}): move that away, or set "
                              "XDG_DATA_HOME to a folder this user can write") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._tui_pos = True  # type: ignore[attr-defined]
        handler.addFilter(_quiet_escpos)
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        journal = journal_handler()
        if journal is not None:
            journal.addFilter(_quiet_escpos)
            root.addHandler(journal)
    return str(path)


class _JournalFormatter(logging.Formatter):
    """journald reads a `<N>` prefix as the line's priority (syslog levels)."""

    LEVELS = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{self.LEVELS.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def journal_handler() -> logging.Handler | None:
    """When systemd connects standard error to the journal (the kiosk unit), log there too.

    systemd says so in JOURNAL_STREAM (device:inode of that stream); the
    handler writes to a duplicate of fd 2, so it still reaches the journal
    while Textual captures sys.stderr.
    """
    import os
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in stream.split(":"))
        st = os.fstat(2)
    except (ValueError, OSError):
        return None
    if (st.st_dev, st.st_ino) != (dev, ino):
        return None
    out = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    handler = logging.StreamHandler(out)
    handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    handler._tui_pos_journal = True  # type: ignore[attr-defined]
    return handler


class NoDatabase(SchemaOutOfDate):
    """The configured SQLite file is not there (or cannot be made): only `tui-pos init` makes one."""


class NoUsers(Exception):
    """Nobody could sign in: a register does not open without a user (the demo makes its own)."""


def open_database(config: Config, demo: bool = False, *, upgrade: bool | None = False,
                  create: bool = False) -> Database:
    """Bind the proxy to the configured database, after the start-up checks (issue 28 item 10).

    Only `tui-pos init` (create=True) and the demo make a database: anything else on a SQLite path with no
    file is refused (NoDatabase: "no database at PATH: run `tui-pos init`"), nothing created. A SQLite
    database that has tui-pos tables is brought up to date on the spot; one without them, like a PostgreSQL
    database (shared by several registers: only `tui-pos init`, upgrade=True, changes its schema) that is
    missing tables or older, is refused (SchemaOutOfDate, saying to run `tui-pos init`). upgrade=None
    binds the database as it is, unchecked (init migrates it itself; the doctor and support mode look).
    """
    from pathlib import Path

    from peewee import SqliteDatabase

    from tui_pos.config import why_not
    from tui_pos.models.db import sqlite_path, where
    from tui_pos.models.migrations import check_schema
    url = config.db_url(demo)
    path = sqlite_path(url)
    create = create or (demo and upgrade is not None)   # the demo database is made and seeded on first use
    if path is not None:
        file = Path(path)
        if file.is_dir():
            raise NoDatabase(f"{path} is a folder, not a database file: set [database] url to a file in it")
        if create:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise NoDatabase(f"cannot make the folder {file.parent} for the database "
                                 f"({why_not(file.parent, exc)})") from None
        elif not file.exists():
            raise NoDatabase(f"no database at {path}: run `tui-pos{' --demo' if demo else ''} init`")
    database = bind(url)
    database.connect(reuse_if_open=True)
    if upgrade is None:
        return database
    if upgrade or create or (isinstance(database, SqliteDatabase) and database.table_exists("schema_migrations")):
        migrate(database)
    try:
        check_schema(database)   # no tables, or an older or newer schema: says what to do
    except SchemaOutOfDate as exc:
        raise SchemaOutOfDate(f"{where(url)}: {exc}") from None
    return database


def sale_service(config: Config) -> SaleService:
    from tui_pos.domain.money import parse_percent_bp
    from tui_pos.services.messaging import Settings
    return SaleService(
        config.store.register, point_of_sale=config.store.point_of_sale, store_name=config.store.name,
        default_mode=config.store.sales_mode, sales_modes=config.sale.sales_modes,
        max_discount_bp=parse_percent_bp(config.sale.max_cashier_discount), tenders=config.sale.tenders,
        header=config.receipt.header, footer=config.receipt.footer,
        stack_discounts=config.customers.stack_discounts, block_defaulters=config.customers.block_defaulters,
        loyalty_block=config.receipt.loyalty_block, weighed_prefixes=config.scanner.weighed_prefixes,
        weighed_layout=config.scanner.weighed_layout, weighed_value=config.scanner.weighed_value,
        print_queue=config.printer.kind != "none", messaging=Settings.from_config(config),
        rate_and_special=config.pricing.rate_and_special, fiscal=fiscal_settings(config))


def fiscal_taxes(settings: Any, receipt: Any) -> Any:
    """The receipt with the tax rows of its electronic document, once that is settled (it waits as the
    CAFE's block does: the printer's worker, never the key path)."""
    import dataclasses
    import time

    from tui_pos.services import fiscal
    while (left := fiscal.settled_or_due(receipt.receipt_no, settings)) > 0:
        time.sleep(min(left, 0.2))
    taxes = fiscal.receipt_taxes(receipt.receipt_no)
    if taxes is None:
        return receipt
    return dataclasses.replace(receipt, totals=dataclasses.replace(receipt.totals, taxes=taxes))


def fiscal_receipt(settings: Any, receipt_no: str, rows: list[Any], columns: int, qr: str) -> tuple[list[Any], str]:
    """The receipt as the DGI's CAFE (docs/fiscal.md): it waits up to `[fiscal] wait_seconds` for the
    authorization (in the printer's worker, never on the key path), then prints once, with the CUFE, the
    QR and the consultation text, or marked as issued in contingency."""
    import textwrap
    import time

    from tui_pos.domain.receipt import Row
    from tui_pos.services import fiscal
    while (left := fiscal.settled_or_due(receipt_no, settings)) > 0:
        time.sleep(min(left, 0.2))
    block = fiscal.receipt_block(receipt_no, settings.issuer.environment)
    if block is None:
        return rows, qr
    cut = rows[-1:] if rows and rows[-1].cut else []
    body = rows[: len(rows) - len(cut)]
    extra = [Row("")]
    if block.receiver_note:
        extra += [Row(t) for t in textwrap.wrap(block.receiver_note, columns)]
    kind = "NOTA DE CREDITO" if block.kind == "credit_note" else "FACTURA"
    extra.append(Row(f"{kind} ELECTRONICA {block.number}", align="center", bold=True))
    if block.state == "contingency":
        extra.append(Row("EMITIDA EN CONTINGENCIA", align="center", bold=True))
    elif block.state != "authorized":
        extra.append(Row("PENDIENTE DE AUTORIZACION", align="center", bold=True))
    if block.cufe:
        extra.append(Row("CUFE:", bold=True))
        extra += [Row(block.cufe[i:i + columns]) for i in range(0, len(block.cufe), columns)]
        extra += [Row(t, align="center") for t in textwrap.wrap("Consulte en la DGI con el QR o el CUFE", columns)]
    else:
        extra += [Row(t, align="center") for t in textwrap.wrap(
            "El CUFE y el QR van en la copia una vez autorizada", columns)]
    return body + extra + cut, block.qr or qr


def _start_offline(config: Config, error: Exception) -> Database:
    """A register started while its server cannot be reached sells on its replica (docs/offline.md); any other
    failure, or no replica yet, is raised as it was. Returns the server's database (not connected)."""
    from pathlib import Path

    from tui_pos.models.db import is_connection_error
    server = db_proxy.obj
    replica = config.offline.replica or str(data_dir() / f"replica-{config.store.register}.sqlite")
    if server is None or not config.offline.enabled or not is_connection_error(error) or not Path(replica).exists():
        raise error
    log.warning("the server cannot be reached at start (%s): starting offline on %s", error, replica)
    from tui_pos.models.db import open_database as open_url
    from tui_pos.models.db import reset_connection
    reset_connection()
    db_proxy.initialize(open_url(f"sqlite:///{replica}"))
    return server


def offline_service(config: Config, database: Database, sales: SaleService) -> Any:
    """The register's replica and journal (docs/offline.md): on PostgreSQL with `[offline] enabled`; None on
    SQLite (the register's own file is never away)."""
    from peewee import SqliteDatabase
    if not config.offline.enabled or isinstance(database, SqliteDatabase):
        return None
    from tui_pos.services.offline import Offline, Settings
    path = config.offline.replica or str(data_dir() / f"replica-{config.store.register}.sqlite")
    return Offline(Settings(True, path, config.offline.redeem_cap, float(config.offline.refresh_every)),
                   config.store.register, database, fiscal=sales.fiscal)


def fiscal_settings(config: Config) -> Any:
    """`[fiscal]` as services.fiscal reads it; None unless `mode = "fe"` (nothing fiscal is imported then)."""
    if config.fiscal.mode != "fe":
        return None
    from tui_pos.services.fiscal import Settings as FiscalSettings
    return FiscalSettings.from_config(config.fiscal)


@dataclass
class Runtime:
    """Everything the app needs, built once here and handed to it; screens get their parts injected."""

    config: Config
    """The configuration the register started with."""
    sales: SaleService
    """The sale service (a facade over its parts)."""
    printer: Printer
    """The receipt printer (NoPrinter without one)."""
    money: MoneyFormat
    """Amounts as this store writes them."""
    demo: bool = False
    """The demo database."""
    spooler: Spooler | None = None
    """The print queue's sender; None without a printer."""
    messages: Sender = field(default=None)  # type: ignore[assignment]
    """The customer-message sender (email and SMS channels as configured)."""
    day: DayPlan = field(default=None)  # type: ignore[assignment]
    """This register's close of day (X, Z then its backup, printing the report)."""
    scanner_backend: Backend | None = None
    """Where scanners come from (None: evdev); tests inject pipes (hardware.evpipe.PipeBackend)."""

    def __post_init__(self) -> None:
        if self.messages is None:
            from tui_pos.services.messaging import sender_for
            self.messages = sender_for(self.config)
        if self.day is None:
            self.day = day_plan(self.config, self.sales, self.demo, printing=self.spooler is not None)

    def scanners(self, on_code: CodeCallback, on_state: StateCallback) -> ScannerHub | None:
        """The scanner hub for `[scanner] devices` (None without any), reporting to the app's callbacks."""
        cfg = self.config.scanner
        if not cfg.devices:
            return None
        from tui_pos.hardware.scanner import ScannerHub
        return ScannerHub(cfg.devices, on_code, on_state, layout=cfg.layout, grab=cfg.grab,
                          timeout=cfg.timeout_ms / 1000, backend=self.scanner_backend)


def day_plan(config: Config, sales: SaleService, demo: bool, *, printing: bool) -> DayPlan:
    """The close of day on this register: its float, printer columns and the daily backup after a Z."""
    from tui_pos.domain.money import parse_money
    from tui_pos.services.backup import DailyBackup
    from tui_pos.services.dayclose import DayPlan
    return DayPlan(register=sales.register_code,
                   opening_float_cents=parse_money(config.sale.opening_float, "opening float"),
                   columns=config.printer.columns, printing=printing,
                   backup=DailyBackup(config.db_url(demo), config.backup.dir, config.backup.keep),
                   offline=sales.offline)


def receipt_builder(config: Config, sales: SaleService, printer: Printer,
                    money: MoneyFormat) -> Callable[[Any], bytes]:
    """job -> ESC/POS bytes: the receipt from the database, laid out and rendered on a Dummy."""
    from tui_pos.domain.receipt import layout
    from tui_pos.hardware.printer import render

    def build(job: Any) -> bytes:      # a print_job row (models.PrintJob)
        if job.kind == "report":  # an X or Z report, laid out when it was taken
            from tui_pos.services.dayclose import rows_of
            return render(rows_of(job.body or "[]"), profile=config.printer.profile)
        receipt = sales.receipt(job.receipt_no, reprint=job.reprint)
        if sales.fiscal is not None:     # the CAFE says the tax the DGI's document says (docs/fiscal.md)
            receipt = fiscal_taxes(sales.fiscal, receipt)
        rows = layout(receipt, config.printer.columns, money.plain)
        qr = config.receipt.qr.format(receipt=receipt.receipt_no) if config.receipt.qr else ""
        if sales.fiscal is not None:
            rows, qr = fiscal_receipt(sales.fiscal, job.receipt_no, rows, config.printer.columns, qr)
        return render(rows, kick_drawer=job.kick_drawer and printer.has_drawer, profile=config.printer.profile,
                      qr=qr, logo=config.receipt.logo)
    return build


def build(config: Config, demo: bool = False, *, allow_no_users: bool = False) -> Runtime:
    """Open the database, seed the demo if asked, and make the printer.

    NoUsers when nobody could sign in (issue 28: "a register whose database has no user says how to add
    the first one and does not sell"); `allow_no_users` is for tests that drive the sale screen without a
    sign-in, never for a command."""
    import os
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(data_dir() / "escpos-cache"))   # beside the data
    from tui_pos.hardware.printer import PrinterError, make_printer

    try:
        database = open_database(config, demo)
    except Exception as exc:  # noqa: BLE001 - raised again by _start_offline unless the server is away
        database = _start_offline(config, exc)   # the server away at start: the replica, if there is one
    sales = sale_service(config)
    sales.offline = offline_service(config, database, sales)
    if sales.offline is not None and database is not db_proxy.obj:
        sales.offline.go_offline()
    from tui_pos.domain.permissions import Permissions
    from tui_pos.services import users
    users.configure_lockout(config.store.register, config.security.pin_attempts)   # every PIN prompt here
    users.configure_permissions(Permissions.from_table(vars(config.permissions)))   # every gate reads it
    if demo:
        from tui_pos.services.demo import seed_demo
        seed_demo()
    if not allow_no_users and not users.users_exist():
        from tui_pos.models.db import where
        raise NoUsers(f"{where(config.db_url(demo))} has no users, and nobody could sign in: add the first one with "
                      "`tui-pos user add NAME --role manager` (it asks for the PIN), then start the register")
    _ = sales.register_id  # creates this register's row once, off the key path
    try:
        printer = make_printer(config.printer)
    except PrinterError as exc:
        log.error("printer not usable: %s", exc)
        from tui_pos.hardware.printer import NoPrinter
        printer = NoPrinter()
    money = MoneyFormat(config.store.currency, config.store.locale)
    spooler = None
    if printer.kind != "none":
        from tui_pos.services.printing import Spooler
        spooler = Spooler(sales.register_code, printer, receipt_builder(config, sales, printer, money))
    from tui_pos.services.messaging import sender_for
    return Runtime(config=config, sales=sales, printer=printer, money=money, demo=demo, spooler=spooler,
                   messages=sender_for(config))


def build_support(config: Config, demo: bool = False) -> Runtime:
    """For `tui-pos --support`: the database as it is (never migrated, nothing created), no printer driven."""
    from tui_pos.hardware.printer import NoPrinter
    from tui_pos.models.migrations import check_schema
    database = open_database(config, demo, upgrade=None)
    check_schema(database)
    return Runtime(config=config, sales=sale_service(config), printer=NoPrinter(),
                   money=MoneyFormat(config.store.currency, config.store.locale), demo=demo)


def close() -> None:
    if not db_proxy.is_closed():
        db_proxy.close()

"""The print queue: every receipt to print is a row; the spooler sends them in order.

A completed sale or refund writes its job in the same transaction as the
receipt number, so a receipt can never be lost between the sale and the
printer. `Spooler.send_next()` runs in a worker thread: it takes this
register's oldest waiting job, builds its bytes, writes them in one go and
marks the job printed; when the printer fails, the job stays first in line
and is retried after a back-off (1, 2, 4 ... 30 s). The sale never waits.

The queue is at-least-once, and says so on paper. Before the bytes go out the
job's `started_at` is committed; it is cleared again only when the attempt
surely printed nothing (the printer could not be reached, or said it had no
paper). A job found with `started_at` set by an attempt this process did not
see through (the register was killed between printing and recording it, or
the printer failed in the middle of the write) may have printed: it prints
again marked COPY, and never opens the drawer a second time. When the
database goes while a job is built or recorded, nothing is guessed: a job not
yet sent is sent when the database is back, and a job printed but not yet
recorded is recorded then, without printing it again.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_pos.hardware.printer import PaperOut, Printer
from tui_pos.models import PrintJob, db, utcnow
from tui_pos.models.db import is_connection_error, worker_connection

if TYPE_CHECKING:
    from tui_pos.config import Config

log = logging.getLogger(__name__)

BACKOFF_MAX = 30.0


def backoff(attempts: int) -> float:
    """Seconds to wait after the n-th failed attempt: 1, 2, 4, 8, 16, 30, 30..."""
    return min(BACKOFF_MAX, 2.0 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Job:
    """A job as the spooler sees it."""

    id: int
    receipt_no: str
    reprint: bool               # printed marked COPY
    kick_drawer: bool
    attempts: int
    kind: str = "receipt"       # receipt | report
    body: str | None = None     # a report's rows as JSON
    uncertain: bool = False     # an earlier attempt may have printed: this one is a COPY, without the drawer


@dataclass(frozen=True)
class SpoolResult:
    """What one pass of the spooler did, for the status bar."""

    sent: Job | None = None       # the job just printed
    failed: Job | None = None     # the job that failed (still first in line)
    error: str = ""
    waiting: int = 0              # jobs still waiting after this pass
    retry_in: float | None = None  # seconds until the head job may be tried again; None: queue empty
    state: str = "ready"          # ready | offline | paper out | paper low


def enqueue(register: str, receipt_no: str, *, kick_drawer: bool = False, reprint: bool = False) -> int:
    """Queue a receipt (inside the caller's transaction when there is one).

    A receipt's original is queued once: its job's `original_of` is unique, so queuing it again fails
    with the transaction that tried. Copies (reprints) may be queued any number of times.
    """
    with db.atomic():
        return PrintJob.create(register=register, receipt_no=receipt_no, kick_drawer=kick_drawer,
                               reprint=reprint, original_of=None if reprint else receipt_no).id


def waiting(register: str) -> int:
    return PrintJob.select().where(PrintJob.register == register, PrintJob.state == "waiting").count()


def queue(register: str, limit: int = 20) -> list[dict]:
    """The newest jobs, for support and the status screen."""
    rows = (PrintJob.select().where(PrintJob.register == register).order_by(PrintJob.id.desc()).limit(limit))
    return [{"id": r.id, "receipt_no": r.receipt_no, "state": r.state, "attempts": r.attempts,
             "last_error": r.last_error, "reprint": r.reprint, "created_at": r.created_at,
             "printed_at": r.printed_at} for r in rows]


def _head(register: str) -> PrintJob | None:
    return (PrintJob.select().where(PrintJob.register == register, PrintJob.state == "waiting")
            .order_by(PrintJob.id).first())


def maybe_printed(exc: BaseException) -> bool:
    """Whether a failed send may have put something on paper: False only when the printer surely
    printed nothing (hardware.printer.PrinterError says so, or PaperOut); an unknown error may have."""
    if isinstance(exc, PaperOut):
        return False
    return getattr(exc, "maybe_printed", True)


def start_attempt(job: Job, at: _dt.datetime) -> None:
    """Committed before a job's bytes go out: from here it may print. An uncertain job becomes a copy
    for good (COPY, no drawer), whatever happens to this attempt."""
    changes = {PrintJob.started_at: at}
    if job.uncertain:
        changes.update({PrintJob.reprint: True, PrintJob.kick_drawer: False,
                        PrintJob.last_error: "an earlier attempt may have printed: printed again as COPY"})
    with db.atomic():
        PrintJob.update(changes).where(PrintJob.id == job.id).execute()


def record_printed(job_ids: Iterable[int], at: _dt.datetime) -> None:
    """The jobs went out to the printer: printed. Running it again changes nothing."""
    with db.atomic():
        PrintJob.update(state="printed", printed_at=at, attempts=PrintJob.attempts + 1, last_error="").where(
            PrintJob.id.in_(list(job_ids)), PrintJob.state == "waiting").execute()


class Spooler:
    """Sends this register's queue, oldest first, to one printer."""

    def __init__(self, register: str, printer: Printer, build: Callable[[Job], bytes],
                 clock: Callable[[], _dt.datetime] = utcnow) -> None:
        self.register = register
        self.printer = printer
        self.build = build
        self.clock = clock
        self.unsent: set[int] = set()      # jobs this process started (or tried to) and surely did not send
        self.unrecorded: set[int] = set()  # jobs this process printed and could not record yet

    def send_next(self) -> SpoolResult:
        """One pass: send the head job if it is due. Call from a worker thread.

        A lost database raises (is_connection_error): the caller tries again when it is back.
        """
        with worker_connection():
            if self.unrecorded:      # printed while the database was away: recorded, never printed again
                record_printed(self.unrecorded, self.clock())
                self.unrecorded.clear()
            row = _head(self.register)
            if row is None:
                return SpoolResult()
            now = self.clock()
            uncertain = row.started_at is not None and row.id not in self.unsent
            job = Job(row.id, row.receipt_no or "", row.reprint or uncertain, row.kick_drawer and not uncertain,
                      row.attempts, row.kind, row.body, uncertain)
            if row.next_try_at and row.next_try_at > now:
                return SpoolResult(waiting=waiting(self.register),
                                   retry_in=(row.next_try_at - now).total_seconds(), state="offline",
                                   error=row.last_error)
            try:
                data = self.build(job)
            except Exception as exc:  # a receipt that cannot be built is a bug: log, keep it
                if is_connection_error(exc):
                    raise             # not a bug: the database went; built again when it is back
                log.exception("cannot build print job %s (%s)", job.id, job.receipt_no)
                return self._failed(job, f"the receipt could not be built ({type(exc).__name__}); logged")
            self.unsent.add(job.id)   # until the bytes go: a lost commit below leaves it marked, not sent
            start_attempt(job, self.clock())
            if job.uncertain:
                log.warning("print job %s (%s) may have printed before: printing it as COPY, no drawer",
                            job.id, job.receipt_no)
            self.unsent.discard(job.id)
            try:
                paper = self.printer.send(data)
            except Exception as exc:  # noqa: BLE001 - PrinterError, PaperOut, or a driver error
                printed = maybe_printed(exc)
                if not printed:
                    self.unsent.add(job.id)
                return self._failed(job, str(exc) or type(exc).__name__,
                                    "paper out" if isinstance(exc, PaperOut) else "offline",
                                    nothing_printed=not printed)
            self.unrecorded.add(job.id)
            try:
                record_printed([job.id], self.clock())
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                # printed: recorded when the database is back (the next pass), never printed again
                log.warning("print job %s (%s) printed; recording it waits for the database", job.id,
                            job.receipt_no)
                return SpoolResult(sent=job, retry_in=0.0, state="paper low" if paper == "low" else "ready")
            self.unrecorded.discard(job.id)
            left = waiting(self.register)
            return SpoolResult(sent=job, waiting=left, retry_in=0.0 if left else None,
                               state="paper low" if paper == "low" else "ready")

    def _failed(self, job: Job, error: str, state: str = "offline", *, nothing_printed: bool = False) -> SpoolResult:
        """The attempt failed; with `nothing_printed` it is as if it never started (no COPY next time)."""
        attempts = job.attempts + 1
        delay = backoff(attempts)
        changes = {PrintJob.attempts: attempts, PrintJob.last_error: error[:250],
                   PrintJob.next_try_at: self.clock() + _dt.timedelta(seconds=delay)}
        if nothing_printed:
            changes[PrintJob.started_at] = None
        with db.atomic():
            PrintJob.update(changes).where(PrintJob.id == job.id).execute()
        if nothing_printed:
            self.unsent.discard(job.id)
        log.warning("printing %s failed (attempt %d, next in %.0f s): %s", job.receipt_no, attempts, delay, error)
        return SpoolResult(failed=job, error=error, waiting=waiting(self.register), retry_in=delay, state=state)

    def retry_now(self) -> None:
        """The cashier fixed the printer: try the head job at once."""
        with worker_connection(), db.atomic():
            PrintJob.update(next_try_at=self.clock()).where(
                PrintJob.register == self.register, PrintJob.state == "waiting").execute()


def record_drawer_open(register: str, user_id: int | None, approver_id: int | None) -> None:
    """The cash drawer opened without a sale: always audited, with the approving manager."""
    from tui_pos.services import audit
    with db.atomic():
        audit.record("drawer.open", user_id=user_id, approved_by=approver_id, register=register)


def capabilities(profile: str) -> str:
    """What a python-escpos profile says the printer can do, in words."""
    from tui_pos.hardware.printer import _escpos
    caps = _escpos().Dummy(profile=profile).profile
    can = [name for name, feature in (("barcode", "barcodeB"), ("QR", "qrCode"), ("images", "bitImageRaster"),
                                      ("cutter", "paperFullCut")) if caps.supports(feature)]
    return ", ".join(can) or "text only"


def test_page(cfg: Config) -> bytes:
    """The printer test page: a one-line receipt with the store's header, as ESC/POS bytes."""
    from tui_pos.domain.money import MoneyFormat
    from tui_pos.domain.pricing import PricedLine, note_totals
    from tui_pos.domain.receipt import Receipt, ReceiptLine, layout
    from tui_pos.hardware.printer import render
    totals = note_totals([PricedLine(1, 100, 700)])
    receipt = Receipt(store_name=cfg.store.name, receipt_no="TEST-000000", when=_dt.datetime.now(),
                      cashier="support", sales_mode="test",
                      lines=(ReceiptLine("Printer test", 1, 100, 100, 0, 100),), totals=totals,
                      payments=(("cash", 100),), header=tuple(cfg.receipt.header),
                      footer=("If you can read this, the printer works.",))
    qr = cfg.receipt.qr.format(receipt="TEST-000000") if cfg.receipt.qr else ""
    return render(layout(receipt, cfg.printer.columns, MoneyFormat(cfg.store.currency, cfg.store.locale).plain),
                  profile=cfg.printer.profile, qr=qr, logo=cfg.receipt.logo)

"""Receipts printed twice as originals (issue 28, item 12): the queue is at-least-once, and says so on paper.

"A receipt printed again after an uncertain print is marked `COPY` (like
Ctrl+P's reprint) and never opens the drawer again; a connection lost while a
job is built or recorded prints that job once when it is back."

Real ESC/POS bytes (the register's own receipt builder) go to a real TCP
printer on loopback (hardware/netprinter_sim.py); PostgreSQL is reached
through the TCP relay of `pg_proxy_url`, cut where the test says.
"""

import datetime as dt
import socket
import threading

import pytest

from tui_pos.bootstrap import receipt_builder
from tui_pos.config import from_dict
from tui_pos.domain.money import MoneyFormat
from tui_pos.hardware.netprinter_sim import SimulatedPrinter
from tui_pos.hardware.printer import PrinterError, make_printer
from tui_pos.models import PrintJob, utcnow
from tui_pos.models.db import is_connection_error, reset_connection
from tui_pos.services import printing
from tui_pos.services.printing import Spooler
from tui_pos.services.sales import SaleService

KICK = b"\x1bp"     # ESC p: the cash drawer's pulse


class Clock:
    def __init__(self):
        self.now = utcnow() + dt.timedelta(seconds=1)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += dt.timedelta(seconds=seconds)


class Killed(BaseException):
    """kill -9: the process stops where it is (no handler runs, nothing more is written)."""


def config(port):
    return from_dict({"store": {"name": "Test Store"},
                      "printer": {"kind": "network", "host": "127.0.0.1", "port": port, "timeout": 2}})


def register(sim, sales, printer=None, clock=None):
    """A register's spooler as bootstrap wires it: the receipt built from the database, rendered."""
    cfg = config(sim.port)
    printer = printer or make_printer(cfg.printer)
    return Spooler("R1", printer, receipt_builder(cfg, sales, printer, MoneyFormat()), clock=clock or Clock())


def cash_sale(sales):
    note = sales.open_note()
    sales.add_item(note, "LATT")
    return sales.pay(note).receipt_no


@pytest.fixture
def queued(demo):
    return SaleService("R1", store_name="Test Store", tenders=["cash", "card"], print_queue=True)


@pytest.fixture
def sim():
    printer = SimulatedPrinter().start()
    yield printer
    printer.stop()


class DiesAfterSending:
    """The real printer, in a process killed right after the bytes went out (before it records them)."""

    def __init__(self, printer):
        self.printer = printer
        self.kind, self.has_drawer = printer.kind, printer.has_drawer

    def send(self, data):
        self.printer.send(data)
        raise Killed()


def test_a_register_killed_between_printing_and_recording_prints_a_copy_without_the_drawer(queued, sim):
    """R1-000078 printed twice as an original and opened the drawer twice: now the second is a COPY."""
    number = cash_sale(queued)
    dying = register(sim, queued, DiesAfterSending(make_printer(config(sim.port).printer)))
    with pytest.raises(Killed):
        dying.send_next()
    assert sim.wait_for(1)
    job = PrintJob.get(PrintJob.receipt_no == number)
    assert job.state == "waiting" and job.started_at is not None     # what the killed register left
    restarted = register(sim, queued)                                  # a new process over the same database
    result = restarted.send_next()
    assert result.sent.receipt_no == number and result.sent.uncertain
    assert sim.wait_for(2)
    original, again = sim.jobs
    assert KICK in original and b"COPY" not in original
    assert b"COPY" in again and KICK not in again and number.encode() in again
    job = PrintJob.get_by_id(job.id)
    assert (job.state, job.reprint, job.kick_drawer, job.original_of) == ("printed", True, False, number)
    assert restarted.send_next().sent is None and len(sim.jobs) == 2   # and only once more


def test_the_steps_a_crashed_register_left_behind(queued, sim):
    """The attempt was started (committed) and the bytes sent, but "printed" never written."""
    number = cash_sale(queued)
    row = PrintJob.get(PrintJob.receipt_no == number)
    job = printing.Job(row.id, number, row.reprint, row.kick_drawer, row.attempts)
    printing.start_attempt(job, utcnow())
    crashed = register(sim, queued)
    make_printer(config(sim.port).printer).send(crashed.build(job))   # the original, drawer kick and all
    restarted = register(sim, queued)
    assert restarted.send_next().sent.receipt_no == number
    assert sim.wait_for(2)
    assert KICK in sim.jobs[0] and b"COPY" in sim.jobs[1] and KICK not in sim.jobs[1]


def test_a_printer_that_was_never_reached_prints_the_original_later(queued, sim):
    """Nothing reached the paper (the printer was off): the retry is the original, drawer and all."""
    number = cash_sale(queued)
    clock = Clock()
    spooler = register(sim, queued, clock=clock)
    sim.stop()
    failed = spooler.send_next()
    assert failed.failed.receipt_no == number
    assert PrintJob.get(PrintJob.receipt_no == number).started_at is None
    sim.start()
    clock.advance(2)
    # a restart in between changes nothing: the failed attempt surely printed nothing
    assert register(sim, queued, clock=clock).send_next().sent.receipt_no == number
    assert sim.wait_for(1)
    assert KICK in sim.jobs[0] and b"COPY" not in sim.jobs[0]


class FailsMidWrite:
    """A printer whose connection broke in the middle of the write: part of the job may be on paper."""

    def __init__(self, printer):
        self.printer = printer
        self.kind, self.has_drawer = printer.kind, printer.has_drawer

    def send(self, data):
        self.printer.send(data[:len(data) // 2])
        raise PrinterError("connection reset while writing", maybe_printed=True)


def test_a_write_that_broke_halfway_is_printed_again_as_a_copy(queued, sim):
    number = cash_sale(queued)
    clock = Clock()
    real = make_printer(config(sim.port).printer)
    broken = register(sim, queued, FailsMidWrite(real), clock=clock)
    assert broken.send_next().failed.receipt_no == number
    clock.advance(2)
    fixed = register(sim, queued, real, clock=clock)
    fixed.unsent = broken.unsent          # the same process: it knows what it did not send
    assert fixed.send_next().sent.receipt_no == number
    assert sim.wait_for(2)
    half, whole = sim.jobs
    assert KICK in half and b"COPY" in whole and KICK not in whole


def test_a_network_printer_says_whether_bytes_may_have_gone():
    """Refused at connect: nothing printed. Reset while writing: maybe printed."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    cfg = from_dict({"printer": {"kind": "network", "host": "127.0.0.1", "port": port, "timeout": 1,
                                 "paper_check": False}})
    with pytest.raises(PrinterError) as refused:
        make_printer(cfg.printer).send(b"x")
    assert refused.value.maybe_printed is False and not printing.maybe_printed(refused.value)

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def reset():
        conn, _ = server.accept()
        conn.recv(1000)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()                      # RST: the printer went in the middle of the job
    threading.Thread(target=reset, daemon=True).start()
    cfg = from_dict({"printer": {"kind": "network", "host": "127.0.0.1", "port": server.getsockname()[1],
                                 "timeout": 2, "paper_check": False}})
    with pytest.raises(PrinterError) as broke:
        make_printer(cfg.printer).send(b"x" * 20_000_000)
    server.close()
    assert broke.value.maybe_printed is True and printing.maybe_printed(broke.value)


def test_paper_out_printed_nothing(queued, sim):
    number = cash_sale(queued)
    clock = Clock()
    spooler = register(sim, queued, clock=clock)
    sim.paper = "out"
    assert spooler.send_next().state == "paper out"
    assert PrintJob.get(PrintJob.receipt_no == number).started_at is None
    sim.paper = "ok"
    clock.advance(2)
    assert register(sim, queued, clock=clock).send_next().sent.receipt_no == number
    assert sim.wait_for(1) and KICK in sim.jobs[0] and b"COPY" not in sim.jobs[0]


# ---------------------------------------------------------------- the database goes (PostgreSQL)


@pytest.fixture
def pg_register(pg_proxy_url):
    """A register on PostgreSQL through a relay the test cuts; the demo catalogue."""
    from tui_pos.models import db
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services.demo import seed_demo
    url, proxy = pg_proxy_url
    database = bind(url)
    migrate(database)
    seed_demo(with_loyalty=False)
    yield SaleService("R1", store_name="Test Store", tenders=["cash", "card"], print_queue=True), proxy
    if not db.is_closed():
        reset_connection()


def back(proxy):
    """The network returns; the register drops its broken connection (the app's database_back)."""
    proxy.start()
    reset_connection()


def lost(call):
    """Run `call`, which must fail as a lost database does (the app then waits for it to come back)."""
    with pytest.raises(Exception) as info:
        call()
    assert is_connection_error(info.value), info.value
    reset_connection()


class CutsAfterSending:
    """The printer takes the bytes, then the database connection goes before "printed" is written."""

    def __init__(self, printer, proxy):
        self.printer, self.proxy = printer, proxy
        self.kind, self.has_drawer = printer.kind, printer.has_drawer

    def send(self, data):
        paper = self.printer.send(data)
        self.proxy.cut()
        return paper


@pytest.mark.postgres
def test_connection_lost_while_recording_prints_once(pg_register, sim):
    sales, proxy = pg_register
    number = cash_sale(sales)
    spooler = register(sim, sales, CutsAfterSending(make_printer(config(sim.port).printer), proxy))
    result = spooler.send_next()                 # printed; the record waits for the database
    assert result.sent.receipt_no == number and spooler.unrecorded
    reset_connection()
    lost(spooler.send_next)                      # still down: nothing is printed, nothing guessed
    back(proxy)
    assert spooler.send_next().sent is None      # recorded now, not printed again
    assert sim.wait_for(1) and len(sim.jobs) == 1 and KICK in sim.jobs[0] and b"COPY" not in sim.jobs[0]
    job = PrintJob.get(PrintJob.receipt_no == number)
    assert (job.state, job.attempts) == ("printed", 1)


@pytest.mark.postgres
def test_connection_lost_while_building_prints_the_original_once_when_back(pg_register, sim, caplog):
    sales, proxy = pg_register
    number = cash_sale(sales)
    spooler = register(sim, sales)
    build = spooler.build

    def build_as_the_line_goes(job):
        proxy.cut()
        return build(job)
    spooler.build = build_as_the_line_goes
    with caplog.at_level("ERROR"):
        lost(spooler.send_next)
    assert not [r for r in caplog.records if "cannot build print job" in r.getMessage()]   # not a bug
    spooler.build = build
    back(proxy)
    assert spooler.send_next().sent.receipt_no == number
    assert sim.wait_for(1)
    assert len(sim.jobs) == 1 and KICK in sim.jobs[0] and b"COPY" not in sim.jobs[0]
    job = PrintJob.get(PrintJob.receipt_no == number)
    assert (job.state, job.attempts, job.last_error) == ("printed", 1, "")


@pytest.mark.postgres
def test_connection_lost_as_the_attempt_is_recorded_prints_the_original_once(pg_register, sim, monkeypatch):
    """The start of the attempt was committed but its answer lost: this process knows it sent nothing."""
    sales, proxy = pg_register
    number = cash_sale(sales)
    spooler = register(sim, sales)
    real = printing.start_attempt

    def committed_then_cut(job, at):
        real(job, at)
        proxy.cut()
        from tui_pos.models import db
        db.execute_sql("SELECT 1")               # the answer that never comes
    monkeypatch.setattr(printing, "start_attempt", committed_then_cut)
    lost(spooler.send_next)
    monkeypatch.setattr(printing, "start_attempt", real)
    back(proxy)
    assert PrintJob.get(PrintJob.receipt_no == number).started_at is not None
    assert spooler.send_next().sent.receipt_no == number
    assert sim.wait_for(1)
    assert len(sim.jobs) == 1 and KICK in sim.jobs[0] and b"COPY" not in sim.jobs[0]


@pytest.mark.postgres
def test_a_connection_killed_in_the_middle_of_a_batch_is_a_lost_connection_not_a_bug(pg_register):
    """Killed from the server inside a psycopg pipeline, the error that surfaces may be "cannot exit
    pipeline mode while busy", raised while handling "terminating connection" (seen in bench/storm.py):
    the register waits for the database instead of reporting a bug (the issue's tracebacks)."""
    import peewee
    import psycopg

    def surfaced():
        try:
            raise psycopg.errors.AdminShutdown("terminating connection due to administrator command")
        except psycopg.Error:
            try:
                raise psycopg.OperationalError("cannot exit pipeline mode while busy")
            except psycopg.Error:
                raise peewee.OperationalError(  # noqa: B904 - chained implicitly, as peewee does
                    "sending query failed: cannot exit pipeline mode while busy")
    with pytest.raises(peewee.OperationalError) as info:
        surfaced()
    assert is_connection_error(info.value)
    assert is_connection_error(peewee.OperationalError("consuming input failed: cannot exit pipeline mode while busy"))
    assert not is_connection_error(peewee.IntegrityError("duplicate key value violates unique constraint"))

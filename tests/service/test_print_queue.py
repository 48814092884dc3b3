"""The print queue on a real database (SQLite and PostgreSQL) and a real TCP printer."""

import datetime as dt

import pytest

from tui_pos.config import from_dict
from tui_pos.domain.errors import InputError
from tui_pos.hardware.netprinter_sim import SimulatedPrinter
from tui_pos.hardware.printer import make_printer
from tui_pos.models import AuditLog, PrintJob
from tui_pos.services import printing
from tui_pos.services.printing import Spooler, backoff
from tui_pos.services.sales import SaleService


class Clock:
    def __init__(self):
        from tui_pos.models import utcnow
        self.now = utcnow() + dt.timedelta(seconds=1)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def queued_sales(demo):
    return SaleService("R1", store_name="Test Store", tenders=["cash", "card"], print_queue=True)


def sell(sales, code="ESP", tender="cash"):
    note = sales.open_note()
    sales.add_item(note, code)
    amount = None if tender == "cash" else sales.summary(note).due_cents
    return sales.pay(note, tender, amount).receipt_no


def network_spooler(sim, clock, register="R1"):
    printer = make_printer(from_dict({"printer": {"kind": "network", "host": "127.0.0.1", "port": sim.port,
                                                  "timeout": 1}}).printer)
    return Spooler(register, printer, lambda job: f"<{job.receipt_no}{' COPY' if job.reprint else ''}>".encode(),
                   clock=clock)


def test_completing_a_sale_queues_its_receipt_with_the_drawer_on_cash(queued_sales):
    cash = sell(queued_sales)
    card = sell(queued_sales, tender="card")
    jobs = list(PrintJob.select().order_by(PrintJob.id))
    assert [(j.receipt_no, j.kick_drawer, j.state) for j in jobs] == [(cash, True, "waiting"), (card, False, "waiting")]
    assert printing.waiting("R1") == 2


def test_a_register_without_a_printer_queues_nothing(sales):
    sell(sales)
    assert PrintJob.select().count() == 0


def test_receipts_print_once_in_order_through_an_outage(queued_sales):
    sim = SimulatedPrinter().start()
    clock = Clock()
    spooler = network_spooler(sim, clock)
    first = sell(queued_sales)
    assert spooler.send_next().sent.receipt_no == first
    sim.stop()                                   # the printer is switched off mid-queue
    numbers = [sell(queued_sales) for _ in range(3)]
    result = spooler.send_next()
    assert result.failed.receipt_no == numbers[0] and result.state == "offline" and result.waiting == 3
    assert result.retry_in == backoff(1) == 1.0
    again = spooler.send_next()                  # not due yet: nothing is tried
    assert again.failed is None and again.sent is None and again.retry_in == pytest.approx(1.0)
    clock.advance(1)
    assert spooler.send_next().retry_in == backoff(2) == 2.0
    sim.start()                                  # back on, same port
    clock.advance(2)
    sent = []
    while (r := spooler.send_next()).sent is not None:
        sent.append(r.sent.receipt_no)
    assert sent == numbers and r.retry_in is None and r.waiting == 0
    assert sim.wait_for(4)
    sim.stop()
    assert sim.jobs == [f"<{n}>".encode() for n in [first] + numbers]
    assert PrintJob.get(PrintJob.receipt_no == numbers[0]).attempts == 3


def test_waiting_receipts_survive_a_restart(queued_sales, db_url):
    sim = SimulatedPrinter().start()
    numbers = [sell(queued_sales) for _ in range(2)]
    # a new register process: a new service and spooler over the same database
    restarted = network_spooler(sim, Clock())
    assert [restarted.send_next().sent.receipt_no for _ in range(2)] == numbers
    assert sim.wait_for(2)
    sim.stop()


def test_paper_out_keeps_the_receipt_first_in_line(queued_sales):
    sim = SimulatedPrinter().start()
    sim.paper = "out"
    clock = Clock()
    spooler = network_spooler(sim, clock)
    number = sell(queued_sales)
    result = spooler.send_next()
    assert result.state == "paper out" and "out of paper" in result.error and result.waiting == 1
    sim.paper = "low"
    spooler.retry_now()
    result = spooler.send_next()
    assert result.sent.receipt_no == number and result.state == "paper low"
    assert sim.wait_for(1)
    sim.stop()


def test_reprint_by_number_queues_a_copy(queued_sales):
    number = sell(queued_sales)
    assert queued_sales.reprint(number.lower()) == number
    job = PrintJob.select().order_by(PrintJob.id.desc()).first()
    assert job.reprint and job.receipt_no == number and not job.kick_drawer
    with pytest.raises(InputError, match="No receipt 'R9-000001'"):
        queued_sales.reprint("R9-000001")


def test_a_receipt_that_cannot_be_built_is_kept_and_logged(queued_sales):
    sim = SimulatedPrinter().start()
    number = sell(queued_sales)

    def broken(job):
        raise KeyError("bug")
    spooler = Spooler("R1", make_printer(from_dict({"printer": {"kind": "network", "host": "127.0.0.1",
                                                                "port": sim.port}}).printer), broken, clock=Clock())
    result = spooler.send_next()
    assert result.failed.receipt_no == number and "could not be built" in result.error
    sim.stop()


def test_opening_the_drawer_is_audited(queued_sales, manager_id):
    printing.record_drawer_open("R1", None, manager_id)
    entry = AuditLog.select().order_by(AuditLog.id.desc()).first()
    assert (entry.action, entry.approved_by_id, entry.register) == ("drawer.open", manager_id, "R1")

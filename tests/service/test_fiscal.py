"""The fiscal outbox (issue 22, docs/fiscal.md): one DGI document per completed sale or return, written with
the sale, numbered without gaps, sent by a worker; the provider away never stops a sale. Both databases."""

from __future__ import annotations

import datetime as dt
import socket
import xml.etree.ElementTree as ET

import pytest
from peewee import IntegrityError

from tui_pos.config import from_dict
from tui_pos.domain import fiscal as rules
from tui_pos.models import Customer, FiscalDoc, Note, db
from tui_pos.services import customers, fiscal, pac, returns, users
from tui_pos.services.sales import SaleService

NS = {"f": "http://dgi-fep.mef.gob.pa"}
ISSUER = {"mode": "fe", "ruc": "155596713-2-2015", "dv": "59", "ruc_type": 2, "name": "Café Sol, S.A.",
          "address": "Calle 50, Ciudad de Panamá", "branch": "0000", "point": 7, "environment": 2,
          "token_company": "tok", "token_password": "pw"}


def closed_port() -> int:
    """A port nothing listens on: the provider is away (a refused connection, for real)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(url: str, **keys) -> fiscal.Settings:
    cfg = from_dict({"fiscal": {**ISSUER, "url": url, "timeout": 1, **keys}})
    made = fiscal.Settings.from_config(cfg.fiscal)
    assert made is not None
    return made


@pytest.fixture
def away():
    return settings_for(f"http://127.0.0.1:{closed_port()}/Service.svc", wait_seconds=3)


@pytest.fixture
def shop(demo, away):
    return SaleService("R1", fiscal=away)


def sell(shop, *codes, customer_id=None, tender="cash", amount=None):
    note = shop.open_note()
    for code in codes:
        shop.add_item(note, code)
    if customer_id:
        shop.attach_customer(note, customer_id)
    return shop.pay(note, tender, amount) if amount is not None else shop.pay(note)


def doc_of(receipt_no: str):
    return FiscalDoc.get(FiscalDoc.note == Note.get(Note.receipt_no == receipt_no).id)


def test_every_completed_sale_has_one_document_numbered_without_gaps(shop):
    """Issue 22: "`dNroDF` consecutive per point with no gaps"; the document row is written with the sale."""
    sold = [sell(shop, "CAPP").receipt_no for _ in range(3)]
    cancelled = shop.open_note()
    shop.add_item(cancelled, "ESP")
    shop.cancel(cancelled, approver_id=users.manager_for("2222").id)   # no sale, no document, no gap
    sold.append(sell(shop, "ESP").receipt_no)
    rows = [doc_of(r) for r in sold]
    assert [(r.point, r.number, r.kind, r.state) for r in rows] == [(7, n, "invoice", "pending") for n in (1, 2, 3, 4)]
    assert len({r.security_code for r in rows}) == 4 and all(len(r.security_code) == 9 for r in rows)
    note_id = Note.get(Note.receipt_no == sold[0]).id
    with pytest.raises(IntegrityError), db.atomic():                          # once per sale, held by the database
        fiscal.enqueue(note_id, shop.fiscal)
    assert FiscalDoc.select().count() == 4


def test_the_document_reconciles_with_the_receipt_mixed_rates_discount_and_change(shop, manager_id):
    """Issue 22: "Totals reconcile to the cent with the receipt: dTotNeto + dTotITBMS = dVTot"."""
    note = shop.open_note()
    line, _ = shop.add_item(note, "3*CAPP")           # 7 %
    shop.add_item(note, "COLA")                       # 10 %
    shop.add_item(note, "BEAN1")                      # 0 %
    shop.set_discount(note, line.id, cents=100, approver_id=manager_id)
    paid = shop.pay(note, "cash", 5000)
    receipt = shop.receipt(paid.receipt_no)
    row = doc_of(paid.receipt_no)
    doc = fiscal.document_for(row)
    totals = rules.document_totals(doc)
    assert totals.total_cents == receipt.totals.total_cents
    assert totals.net_cents + totals.tax_cents == totals.total_cents
    assert totals.change_cents == 5000 - receipt.totals.total_cents
    xml = ET.fromstring(rules.build_xml(doc, shop.fiscal.issuer))
    assert xml.findtext("f:gTot/f:dVTot", namespaces=NS) == f"{receipt.totals.total_cents / 100:.2f}"
    assert sorted(e.text for e in xml.findall("f:gItem/f:gITBMSItem/f:dTasaITBMS", NS)) == ["00", "01", "02"]
    assert xml.findtext("f:gDGen/f:gDatRec/f:iTipoRec", namespaces=NS) == "02"     # a final consumer


def test_a_customer_with_a_valid_ruc_is_named_and_a_bad_one_gets_a_final_consumer_invoice_saying_why(shop):
    good = customers.create({"name": "Juan", "mobile": "6123-4567"}, region="PA")
    Customer.update(ruc="8-274-125", dv="91", ruc_type="individual", fiscal_name="Juan Pérez").where(
        Customer.id == good.id).execute()                  # a manager's edit (customer_fiscal), as data here
    bad = customers.create({"name": "Eva", "mobile": "6123-4599"}, region="PA")
    Customer.update(ruc="8-274-125", dv="19", ruc_type="individual").where(Customer.id == bad.id).execute()
    named = doc_of(sell(shop, "CAPP", customer_id=good.id).receipt_no)
    xml = ET.fromstring(rules.build_xml(fiscal.document_for(named), shop.fiscal.issuer))
    assert xml.findtext("f:gDGen/f:gDatRec/f:iTipoRec", namespaces=NS) == "01"
    assert xml.findtext("f:gDGen/f:gDatRec/f:dNombRec", namespaces=NS) == "Juan Pérez"
    plain = doc_of(sell(shop, "CAPP", customer_id=bad.id).receipt_no)
    fiscal.send_one(plain.id, shop.fiscal, shop.fiscal.provider())         # built (and said) when it is sent
    plain = FiscalDoc.get_by_id(plain.id)
    assert "final-consumer" in plain.receiver_note and "8-274-125" in plain.receiver_note
    assert fiscal.document_for(plain).receiver.kind == "final_consumer"


def test_the_provider_away_never_stops_a_sale_and_past_the_wait_the_document_is_issued_in_contingency(shop):
    """Issue 22: "the provider down ...: the sale completes, nothing is lost, the state says what happened"."""
    paid = sell(shop, "CAPP")
    assert paid.completed
    row = doc_of(paid.receipt_no)
    provider = shop.fiscal.provider()
    soon = row.issued_at + dt.timedelta(seconds=1)
    assert fiscal.send_due(shop.fiscal, provider, soon) == {"pending": 1}          # within the wait: pending
    assert doc_of(paid.receipt_no).attempts == 1 and doc_of(paid.receipt_no).message
    assert fiscal.settled_or_due(paid.receipt_no, shop.fiscal, soon) > 0            # the receipt waits
    later = row.issued_at + dt.timedelta(seconds=4)
    assert fiscal.settled_or_due(paid.receipt_no, shop.fiscal, later) == 0          # ...then prints
    row = doc_of(paid.receipt_no)
    assert (row.state, row.emission) == ("contingency", "contingency")
    assert rules.cufe_is_valid(row.cufe) and row.cufe[2:4] == "01"
    doc = fiscal.document_for(row)
    assert doc.emission == "contingency" and 15 <= len(doc.contingency_reason) <= 250
    xml = ET.fromstring(rules.build_xml(doc, shop.fiscal.issuer))
    assert xml.findtext("f:gDGen/f:iTpEmis", namespaces=NS) == "02"
    assert "<iTpEmis>02</iTpEmis>" in fiscal.xml_of(paid.receipt_no)           # `fiscal show`: as issued
    block = fiscal.receipt_block(paid.receipt_no, 2)
    # the receipt names the document, without a CUFE the provider would never know (HKA draws its own dSeg)
    assert block is not None and (block.state, block.number, block.cufe, block.qr) == (
        "contingency", "007-0000000001", "", "")
    # still sent until the provider answers, later and later
    much_later = later + dt.timedelta(minutes=10)
    assert fiscal.send_due(shop.fiscal, provider, much_later) == {"contingency": 1}
    assert fiscal.counts() == {"contingency": 1}


def test_a_return_makes_a_credit_note_that_waits_for_its_invoice(shop):
    """Issue 22: "Returns produce a credit note (iDoc 04) ... a return of a contingency invoice not yet
    authorized waits for it"."""
    paid = sell(shop, "2*CAPP")
    found = returns.find(paid.receipt_no)
    refund_no = returns.refund(shop, paid.receipt_no, {found.lines[0].line_id: 1}, "cash",
                               approver_id=users.manager_for("2222").id)
    credit = doc_of(refund_no)
    assert (credit.kind, credit.number) == ("credit_note", 2)
    assert fiscal.send_one(credit.id, shop.fiscal, shop.fiscal.provider()) == "pending"
    assert "waits for the invoice" in doc_of(refund_no).message
    doc = fiscal.document_for(credit)
    assert doc.kind == "credit_note" and sum(-ln.qty for ln in doc.lines) == 1


def test_a_document_the_dgi_would_refuse_is_rejected_here_and_the_sale_stands(shop):
    """A tax rate the DGI has no code for (12 %): rejected with the reason, never a stopped sale."""
    from tui_pos.models import Product
    Product.update(tax_rate_bp=1200).where(Product.sku == "MUG").execute()
    paid = sell(shop, "MUG")
    assert paid.completed
    row = doc_of(paid.receipt_no)
    assert fiscal.send_one(row.id, shop.fiscal, shop.fiscal.provider()) == "rejected"
    row = doc_of(paid.receipt_no)
    assert row.code == "local" and "12.00 %" in row.message
    assert fiscal.retry(paid.receipt_no) == 1 and doc_of(paid.receipt_no).state == "pending"


def test_fiscal_mode_none_writes_nothing(demo):
    assert fiscal.Settings.from_config(from_dict({}).fiscal) is None
    shop = SaleService("R1")
    sell(shop, "CAPP")
    assert FiscalDoc.select().count() == 0


@pytest.mark.parametrize("keys, said", [
    ({"mode": "fe"}, "fiscal.ruc is empty"),
    ({**ISSUER, "url": "https://pac.example/ws", "dv": "12"}, "fiscal.ruc"),
    ({**ISSUER, "token_company": "", "url": "https://pac.example/ws"}, "TUI_POS_FISCAL_TOKEN_COMPANY"),
    ({**ISSUER, "url": "ftp://pac"}, "fiscal.url"),
    ({**ISSUER, "url": "https://pac.example/ws", "branch": "00000"}, "fiscal.branch"),
    ({"wait_seconds": 1e30}, "fiscal.wait_seconds"),
    ({**ISSUER, "url": "https://pac.example/ws", "name": "A"}, "fiscal.name must have 2 to 200"),
    ({**ISSUER, "url": "https://pac.example/ws", "name": "x" * 300}, "fiscal.name must have 2 to 200"),
    ({**ISSUER, "url": "https://pac.example/ws", "address": "\x00"}, "fiscal.address"),
    ({**ISSUER, "url": "http://"}, "fiscal.url"),
])
def test_a_bad_fiscal_config_names_its_key(keys, said, monkeypatch):
    from tui_pos.config import ConfigError
    monkeypatch.delenv("TUI_POS_FISCAL_TOKEN_COMPANY", raising=False)
    with pytest.raises(ConfigError, match=said):
        from_dict({"fiscal": keys})


def test_the_credentials_may_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TUI_POS_FISCAL_TOKEN_COMPANY", "env-tok")
    monkeypatch.setenv("TUI_POS_FISCAL_TOKEN_PASSWORD", "env-pw")
    keys = {k: v for k, v in ISSUER.items() if not k.startswith("token")}
    made = fiscal.Settings.from_config(from_dict({"fiscal": {**keys, "url": "https://pac.example/ws"}}).fiscal)
    assert made is not None and (made.token_company, made.token_password) == ("env-tok", "env-pw")
    assert isinstance(made.provider(), pac.HkaProvider)


def test_the_x_report_counts_documents_by_state_and_doctor_warns_about_old_contingency_and_rejections(shop):
    """Issue 22: "the X/Z reports count documents by state; `tui-pos doctor` warns about contingency documents
    nearing the DGI's deadline for sending them and about rejected ones"."""
    from tui_pos.domain.dayreport import as_text, layout
    from tui_pos.services import dayclose, health
    first, second = sell(shop, "CAPP"), sell(shop, "ESP")
    report = dayclose.x_report("R1")
    assert report.fiscal == (("pending", 2),)
    assert "ELECTRONIC INVOICES" in as_text(layout(report, 42, str))
    row = doc_of(first.receipt_no)
    fiscal.to_contingency(row.id, shop.fiscal, "connection refused")
    FiscalDoc.update(issued_at=row.issued_at - dt.timedelta(hours=60)).where(FiscalDoc.id == row.id).execute()
    FiscalDoc.update(state="rejected", code="E101", message="RUC del receptor no existe").where(
        FiscalDoc.id == doc_of(second.receipt_no).id).execute()
    cfg = from_dict({"fiscal": {**ISSUER, "url": "https://pac.example/ws"}})
    said = {c.name: (c.level, c.detail) for c in health.fiscal_checks(cfg)}
    assert said["electronic invoices"][0] == "WARN"
    assert said["contingency documents"][0] == "WARN" and "72 h" in said["contingency documents"][1]
    assert "fiscal list --state rejected" in said["rejected documents"][1]
    z = dayclose.close_day("R1", None)
    assert dict(z.fiscal) == {"contingency": 1, "rejected": 1}
    assert dayclose.z_report("R1", z.number).fiscal == z.fiscal                  # kept with the Z
    assert health.fiscal_checks(from_dict({})) == []
    from tui_pos.models import Product
    Product.update(tax_rate_bp=1200).where(Product.sku == "MUG").execute()
    said = {c.name: c.detail for c in health.fiscal_checks(cfg)}
    assert "MUG 12 %" in said["tax rates"] and "1 product has" in said["tax rates"]


# ====================================================================== with the loopback HKA (tests/pac_server.py)

@pytest.fixture
def hka():
    from tests.pac_server import HkaServer
    issuer = fiscal.Settings.from_config(from_dict({"fiscal": {**ISSUER, "url": "http://x"}}).fiscal).issuer
    with HkaServer(issuer) as server:
        yield server


@pytest.fixture
def served(demo, hka):
    return SaleService("R1", fiscal=settings_for(hka.url, wait_seconds=3))


def test_authorized_within_the_wait_the_receipt_prints_the_cufe_and_the_qr_once(served, hka):
    """Issue 22: "The receipt prints once: with the CUFE, the QR code ... when authorization came within
    wait_seconds"."""
    from tui_pos.bootstrap import fiscal_receipt
    from tui_pos.domain.receipt import as_text, layout
    paid = sell(served, "CAPP", "COLA")
    assert fiscal.send_due(served.fiscal, served.fiscal.provider()) == {"authorized": 1}
    row = doc_of(paid.receipt_no)
    assert row.state == "authorized" and rules.cufe_is_valid(row.cufe) and row.qr.startswith("https://")
    assert hka.sent(1) == 1
    rows = layout(served.receipt(paid.receipt_no), 42, str)
    printed, qr = fiscal_receipt(served.fiscal, paid.receipt_no, rows, 42, "")
    text = as_text(printed)
    assert "CUFE:" in text and row.cufe[:42] in text and "CONTINGENCIA" not in text and qr == row.qr
    assert printed[-1].cut                                   # the block goes before the cut
    assert fiscal.send_due(served.fiscal, served.fiscal.provider()) == {}      # nothing more to send
    assert hka.sent(1) == 1


def test_a_rejection_keeps_the_providers_code_and_message(served, hka):
    hka.mode = "reject"
    paid = sell(served, "CAPP")
    assert fiscal.send_due(served.fiscal, served.fiscal.provider()) == {"rejected": 1}
    row = doc_of(paid.receipt_no)
    assert (row.code, row.message) == (hka.reject_code, hka.reject_message)
    assert [r.reason for r in fiscal.listing("rejected")] == [hka.reject_message]


@pytest.mark.parametrize("mode", ["hang", "error500", "garbage"])
def test_a_slow_broken_or_garbled_provider_leaves_the_sale_whole_then_contingency_then_authorized(demo, hka, mode):
    """Issue 22: "the provider down, slow, answering garbage or rejecting: the sale completes, nothing is lost,
    the state says what happened"."""
    hka.mode, hka.delay = mode, 2.0
    shop = SaleService("R1", fiscal=settings_for(hka.url, wait_seconds=0, timeout=1))
    paid = sell(shop, "CAPP")
    assert paid.completed
    provider = shop.fiscal.provider()
    assert fiscal.send_due(shop.fiscal, provider) == {"contingency": 1}
    row = doc_of(paid.receipt_no)
    assert row.emission == "contingency" and row.message                      # what happened, in words
    hka.mode = "authorize"
    FiscalDoc.update(next_try_at=row.next_try_at - dt.timedelta(hours=1)).where(FiscalDoc.id == row.id).execute()
    assert fiscal.send_due(shop.fiscal, provider) == {"authorized": 1}
    row = doc_of(paid.receipt_no)
    assert (row.state, row.emission) == ("authorized", "contingency")
    sent = hka.enviar[-1]["documento"]["datosTransaccion"]
    assert sent["tipoEmision"] == "02"                                        # sent as issued: in contingency


def test_an_answer_lost_on_the_way_is_found_again_not_issued_twice(served, hka):
    """kill -9 between sending and recording, or an answer lost: the retry finds the first authorization."""
    hka.mode = "lose"                                        # authorized there, a 500 here
    paid = sell(served, "CAPP")
    provider = served.fiscal.provider()
    assert fiscal.send_due(served.fiscal, provider) == {"pending": 1}
    hka.mode = "authorize"
    row = doc_of(paid.receipt_no)
    FiscalDoc.update(next_try_at=row.issued_at).where(FiscalDoc.id == row.id).execute()
    assert fiscal.send_due(served.fiscal, provider) == {"authorized": 1}
    first = next(iter(hka.authorized.values()))
    assert doc_of(paid.receipt_no).cufe == first["cufe"] and len(hka.authorized) == 1


def test_a_document_written_before_a_crash_is_sent_once_after_the_restart(demo, hka):
    """Issue 22: "kill -9 between payment and sending: the document is sent once after restart"."""
    import os
    import subprocess
    import sys
    import textwrap

    from tui_pos.models import db
    url = db.obj.database if hasattr(db.obj, "database") else ""
    if not str(url).endswith(".db"):
        pytest.skip("the child process shares the SQLite file (the PostgreSQL path is the same code)")
    child = textwrap.dedent(f"""
        import os
        from tui_pos.config import from_dict
        from tui_pos.models.db import bind
        from tui_pos.services import fiscal
        from tui_pos.services.sales import SaleService
        bind("sqlite:///{url}").connect()
        settings = fiscal.Settings.from_config(from_dict({{"fiscal": {dict(ISSUER, url=hka.url)!r}}}).fiscal)
        shop = SaleService("R1", fiscal=settings)
        note = shop.open_note()
        shop.add_item(note, "CAPP")
        print(shop.pay(note).receipt_no, flush=True)
        os.kill(os.getpid(), 9)                       # before any sending
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))
    assert done.returncode == -9, done.stderr
    receipt_no = done.stdout.strip()
    assert doc_of(receipt_no).state == "pending" and hka.enviar == []
    settings = settings_for(hka.url)
    for _ in range(3):                                       # the register restarted: its worker passes
        fiscal.send_due(settings, settings.provider())
    assert doc_of(receipt_no).state == "authorized" and hka.sent(1) == 1


def test_the_credit_note_of_an_authorized_invoice_refers_to_its_cufe(served, hka, manager_id):
    paid = sell(served, "2*CAPP")
    provider = served.fiscal.provider()
    fiscal.send_due(served.fiscal, provider)
    invoice = doc_of(paid.receipt_no)
    found = returns.find(paid.receipt_no)
    refund_no = returns.refund(served, paid.receipt_no, {found.lines[0].line_id: 1}, "cash", approver_id=manager_id)
    assert fiscal.send_due(served.fiscal, provider) == {"authorized": 1}
    sent = hka.enviar[-1]["documento"]
    assert sent["datosTransaccion"]["tipoDocumento"] == "04"
    assert invoice.cufe in str(sent)
    assert doc_of(refund_no).state == "authorized"


def test_the_command_line_lists_shows_and_retries(served, hka, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from tui_pos.models import db
    url = db.obj.database if hasattr(db.obj, "database") else ""
    if not str(url).endswith(".db"):
        pytest.skip("the command reads the same SQLite file")
    paid = sell(served, "CAPP")
    fiscal.send_due(served.fiscal, served.fiscal.provider())
    cfg = tmp_path / "config.toml"
    keys = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in ISSUER.items())
    cfg.write_text(f'[database]\nurl = "sqlite:///{url}"\n[fiscal]\n{keys}\nurl = "{hka.url}"\n'.replace("'", '"'))
    tui = [str(Path(sys.executable).with_name("tui-pos")), "--config", str(cfg)]
    listed = subprocess.run([*tui, "fiscal", "list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert f"007-0000000001  {paid.receipt_no}" in listed.stdout and "authorized" in listed.stdout
    shown = subprocess.run([*tui, "fiscal", "show", paid.receipt_no], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "<rFE" in shown.stdout and "dgi-fep.mef.gob.pa" in shown.stdout
    missing = subprocess.run([*tui, "fiscal", "show", "R9-000001"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "No electronic document" in missing.stderr and "Traceback" not in missing.stderr


def test_the_return_of_a_sale_made_before_electronic_invoices_is_said_not_left_waiting(demo, away, manager_id):
    before = SaleService("R1")                                   # mode "none" then
    paid = sell(before, "CAPP")
    shop = SaleService("R1", fiscal=away)
    found = returns.find(paid.receipt_no)
    refund_no = returns.refund(shop, paid.receipt_no, {found.lines[0].line_id: 1}, "cash", approver_id=manager_id)
    credit = doc_of(refund_no)
    assert fiscal.send_one(credit.id, away, away.provider()) == "rejected"
    assert "no electronic invoice" in doc_of(refund_no).message


def test_an_answer_lost_then_the_receipts_contingency_still_ends_authorized_once(demo, hka):
    """The review's case: the provider authorized the normal document but its answer was lost, the receipt
    went to contingency, and the retry (as 02) met "already processed": it is the same document."""
    hka.mode = "lose"
    shop = SaleService("R1", fiscal=settings_for(hka.url, wait_seconds=0))
    paid = sell(shop, "COLA")
    provider = shop.fiscal.provider()
    assert fiscal.send_due(shop.fiscal, provider) == {"contingency": 1}
    hka.mode = "authorize"
    row = doc_of(paid.receipt_no)
    FiscalDoc.update(next_try_at=row.issued_at).where(FiscalDoc.id == row.id).execute()
    assert fiscal.send_due(shop.fiscal, provider) == {"authorized": 1}
    [first] = hka.authorized.values()
    assert doc_of(paid.receipt_no).cufe == first["cufe"]


def test_each_register_sends_its_own_documents(demo, hka):
    """Two registers on one database: each register's worker sends only its own sales' documents."""
    settings = settings_for(hka.url)
    r1, r2 = SaleService("R1", fiscal=settings), SaleService("R2", fiscal=settings)
    one, two = sell(r1, "CAPP"), sell(r2, "ESP")
    assert fiscal.send_due(settings, settings.provider(), register="R1") == {"authorized": 1}
    assert (doc_of(one.receipt_no).state, doc_of(two.receipt_no).state) == ("authorized", "pending")
    assert fiscal.send_due(settings, settings.provider()) == {"authorized": 1}       # the store's process: all


def test_two_branches_with_the_same_point_number_each_without_gaps(demo, away):
    """The review: two branches (stores) on one database, both with point 1: each its own series."""
    main_store = SaleService("R1", fiscal=settings_for(away.url, branch="0000", point=1))
    other = SaleService("R2", fiscal=settings_for(away.url, branch="0001", point=1))
    numbers = [(doc_of(sell(shop, "ESP").receipt_no).branch, doc_of(sell(shop, "ESP").receipt_no).number)
               for shop in (main_store, other, main_store)]
    assert sorted(n for b, n in numbers if b == "0000") == [2, 4] and [n for b, n in numbers if b == "0001"] == [2]
    assert sorted(r.number for r in FiscalDoc.select().where(FiscalDoc.branch == "0000")) == [1, 2, 3, 4]


def test_the_printed_tax_is_the_documents(served, hka):
    """The review: three items of 0.10 at 7 % included: the receipt's own rule says 0.02 of tax on 0.28, the
    DGI's items carry 0.01 each (0.03 on 0.27). The CAFE prints the document's figures."""
    from tui_pos.bootstrap import fiscal_taxes
    from tui_pos.domain.receipt import as_text, layout
    from tui_pos.models import Product
    Product.update(price_cents=10, tax_rate_bp=700).where(Product.sku.in_(["CAPP", "ESP", "LATT"])).execute()
    paid = sell(served, "CAPP", "ESP", "LATT")
    fiscal.send_due(served.fiscal, served.fiscal.provider())
    own = served.receipt(paid.receipt_no)
    assert [(t.base_cents, t.tax_cents) for t in own.totals.taxes] == [(28, 2)]      # the receipt's rule
    printed = fiscal_taxes(served.fiscal, own)
    assert [(t.rate_bp, t.base_cents, t.tax_cents, t.total_cents) for t in printed.totals.taxes] == [(700, 27, 3, 30)]
    assert printed.totals.total_cents == own.totals.total_cents == 30
    sent = hka.enviar[-1]["documento"]["totalesSubTotales"]
    assert (sent["totalPrecioNeto"], sent["totalITBMS"]) == ("0.27", "0.03")
    assert "Tax 7% on 0.27" in as_text(layout(printed, 42, lambda c: f"{c / 100:.2f}"))

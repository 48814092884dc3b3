"""The fiscal outbox (issue 22, docs/fiscal.md): one DGI document per completed sale or return, written with
the sale, numbered without gaps, sent by a worker; the provider away never stops a sale. Both databases."""

from __future__ import annotations

import datetime as dt
import socket
import xml.etree.ElementTree as ET

import pytest

from tui_pos.config import from_dict
from tui_pos.domain import fiscal as rules
from tui_pos.models import Customer, FiscalDoc, Note
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
    assert fiscal.enqueue(note_id, shop.fiscal) == rows[0].id                   # once per sale
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
    block = fiscal.receipt_block(paid.receipt_no, 2)
    assert block is not None and block.state == "contingency" and block.cufe == row.cufe
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

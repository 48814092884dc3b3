"""The Factory HKA adapter against a real loopback HKA (tests/pac_server.py): authorization, rejection with
HKA's code, every way of not answering (Unavailable), the idempotent retry, and the fields on the wire."""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tests import pac_server
from tests.pac_server import DEMO_ISSUER as ISSUER
from tests.pac_server import HkaServer
from tui_pos.domain import fiscal
from tui_pos.domain.fiscal import FiscalDocument, FiscalLine, FiscalPayment, Receiver
from tui_pos.services import pac
from tui_pos.services.pac import Answer, HkaProvider, Unavailable

hka_server = pac_server.hka_server

PANAMA = timezone(timedelta(hours=-5))
AT = datetime(2024, 3, 20, 10, 15, tzinfo=PANAMA)
NS = {"d": fiscal.NAMESPACE}


def sale(*lines: FiscalLine, number: int = 1, paid: int | None = None, **fields: object) -> FiscalDocument:
    """An invoice paid in cash, exactly or with `paid` and the change given back."""
    doc = FiscalDocument(kind="invoice", number=number, issued_at=AT, security_code="123456789",
                         lines=lines or (FiscalLine("Café", "C1", 2, 250, tax_rate_bp=700),), payments=())
    doc = replace(doc, **fields)
    amount = sum(item.total_cents for item in fiscal.item_amounts(doc))
    given = amount if paid is None else paid
    return replace(doc, payments=(FiscalPayment("cash", given),), change_cents=given - amount)


def provider(server: HkaServer, timeout: float = 5.0) -> HkaProvider:
    return HkaProvider(server.url, "token-empresa", "token-password", timeout=timeout)


def send(server: HkaServer, doc: FiscalDocument, timeout: float = 5.0) -> Answer:
    return provider(server, timeout).send(doc, ISSUER, fiscal.build_xml(doc, ISSUER))


def cents(value: str) -> int:
    whole, _, fraction = value.partition(".")
    assert len(fraction) == 2, value
    return int(whole) * 100 + int(fraction)


# --- authorize ---------------------------------------------------------------------------------------------


def test_authorizes_with_hkas_cufe_qr_and_protocol(hka_server):
    doc = sale(number=7)
    answer = send(hka_server, doc)
    assert answer.authorized and answer.code == "200"
    assert answer.message == "El documento se envió correctamente."
    # HKA's CUFE: this document's identity, HKA's own security code (not the app's dSeg)
    assert fiscal.cufe_is_valid(answer.cufe)
    assert answer.cufe[:-10] == fiscal.cufe(doc, ISSUER)[:-10]
    assert answer.cufe != fiscal.cufe(doc, ISSUER)
    authorization = next(iter(hka_server.authorized.values()))
    assert answer.cufe == authorization["cufe"]
    assert answer.qr == authorization["qr"]
    assert answer.qr.startswith(f"https://dgi-fep-test.mef.gob.pa:40001/Consultas/FacturasPorQR?chFE={answer.cufe}")
    assert answer.protocol == authorization["protocol"] and answer.received_at == authorization["received"]
    # the SOAP 1.1 call as HKA's WSDL names it, with the tokens
    call = hka_server.calls[0]
    assert call["action"] == '"http://tempuri.org/IService/Enviar"'
    assert call["ser"] == pac.NS_DOCUMENT
    assert call["content_type"].startswith("text/xml")
    assert hka_server.enviar[0]["tokens"] == ("token-empresa", "token-password")
    assert hka_server.queries == []   # an authorization needs no look-up


def test_the_identity_fields_on_the_wire(hka_server):
    send(hka_server, sale(number=42))
    document = hka_server.enviar[0]["documento"]
    data = document["datosTransaccion"]
    assert document["codigoSucursalEmisor"] == "0000" and document["tipoSucursal"] == "1"
    assert (data["tipoEmision"], data["tipoDocumento"], data["numeroDocumentoFiscal"],
            data["puntoFacturacionFiscal"]) == ("01", "01", "0000000042", "001")
    assert data["fechaEmision"] == "2024-03-20T10:15:00-05:00"
    assert (data["naturalezaOperacion"], data["tipoOperacion"], data["destinoOperacion"], data["formatoCAFE"],
            data["entregaCAFE"], data["envioContenedor"], data["procesoGeneracion"], data["tipoVenta"]) == \
        ("01", "1", "1", "2", "2", "1", "1", "1")
    assert data["cliente"] == {"tipoClienteFE": "02", "pais": "PA"}   # final consumer: type and country only


# --- rejected ----------------------------------------------------------------------------------------------


def test_a_rejection_keeps_hkas_code_and_message(hka_server):
    hka_server.mode = "reject"
    answer = send(hka_server, sale(number=8))
    assert answer == Answer(authorized=False, code="109",
                            message="El campo totalITBMS no coincide con la suma de valorITBMS.")
    assert len(hka_server.queries) == 1   # looked up first: nothing authorized under that number
    assert hka_server.authorized == {}


def test_a_number_authorized_for_another_document_stays_a_rejection(hka_server):
    """The number was authorized for a document of another day (a numbering fault, not a retry): the
    existing authorization is not this sale's, so HKA's answer is kept."""
    first = send(hka_server, sale(number=9))
    answer = send(hka_server, sale(number=9, issued_at=AT + timedelta(days=1)))
    assert first.authorized
    assert answer == Answer(authorized=False, code=pac_server.DUPLICATE_CODE, message=pac_server.DUPLICATE_MESSAGE)


# --- Unavailable -------------------------------------------------------------------------------------------


def test_a_hung_provider_times_out_as_unavailable(hka_server):
    hka_server.mode = "hang"
    hka_server.delay = 3.0
    started = time.monotonic()
    with pytest.raises(Unavailable, match="HKA Enviar"):
        send(hka_server, sale(number=10), timeout=0.5)
    assert time.monotonic() - started < 2.0


def test_http_500_is_unavailable_with_the_fault(hka_server):
    hka_server.mode = "error500"
    with pytest.raises(Unavailable, match=r"HTTP 500 \(Object reference not set"):
        send(hka_server, sale(number=11))


def test_a_body_that_is_not_xml_is_unavailable(hka_server):
    hka_server.mode = "garbage"
    with pytest.raises(Unavailable, match="not XML"):
        send(hka_server, sale(number=12))


def test_a_refused_connection_is_unavailable():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()   # nothing listens there now
    closed = HkaProvider(f"http://127.0.0.1:{port}/ws/obj/v1.0/Service.svc", "t", "p", timeout=2.0)
    doc = sale(number=13)
    with pytest.raises(Unavailable, match="refused"):
        closed.send(doc, ISSUER, fiscal.build_xml(doc, ISSUER))


def test_an_xml_answer_without_the_result_is_unavailable():
    with pytest.raises(Unavailable, match="no EnviarResult"):
        pac.parse_result(b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body/></s:Envelope>",
                         "Enviar")


# --- idempotent ---------------------------------------------------------------------------------------------


def test_a_retry_after_a_lost_answer_returns_the_first_authorization(hka_server):
    doc = sale(number=14)
    hka_server.mode = "lose"
    with pytest.raises(Unavailable):
        send(hka_server, doc)
    first = next(iter(hka_server.authorized.values()))
    hka_server.mode = "authorize"
    answer = send(hka_server, doc)
    again = send(hka_server, doc)
    assert answer.authorized and again.authorized
    assert answer.cufe == again.cufe == first["cufe"]
    assert answer.received_at == first["received"]
    assert len(hka_server.authorized) == 1 and hka_server.sent(14) == 3   # one document for three sends
    query = hka_server.queries[0]
    assert query == {"codigoSucursalEmisor": "0000", "numeroDocumentoFiscal": "0000000014",
                     "puntoFacturacionFiscal": "001", "tipoDocumento": "01", "tipoEmision": "01"}
    estado = next(c for c in hka_server.calls if c["operation"] == "EstadoDocumento")
    assert estado["action"] == '"http://tempuri.org/IService/EstadoDocumento"'
    assert estado["ser"] == pac.NS_MODEL


def test_a_retry_of_an_authorized_number_is_not_a_second_document(hka_server):
    doc = sale(number=15)
    first = send(hka_server, doc)
    second = send(hka_server, doc)
    assert second.authorized and second.cufe == first.cufe
    assert len(hka_server.authorized) == 1


# --- the figures ---------------------------------------------------------------------------------------------


def test_the_request_carries_the_documents_totals_mixed_rates_and_discounts(hka_server):
    buyer = Receiver(ruc="8-274-125", dv="91", ruc_type=1, name="Juan Pérez", address="Vía España 12")
    doc = sale(FiscalLine("Arroz 5 lb", "750100", 2, 325, tax_rate_bp=0),
               FiscalLine("Jabón", "750200", 3, 199, discount_cents=60, tax_rate_bp=700),
               FiscalLine("Cerveza", "750300", 6, 150, tax_rate_bp=1000),
               FiscalLine("Ron", "750400", 1, 1899, discount_cents=190, tax_rate_bp=1500),
               number=16, paid=5000, money_off_cents=100, receiver=buyer)
    answer = send(hka_server, doc)
    assert answer.authorized
    totals = fiscal.document_totals(doc)
    sent = hka_server.enviar[0]["documento"]
    t = sent["totalesSubTotales"]
    assert cents(t["totalPrecioNeto"]) == totals.net_cents
    assert cents(t["totalITBMS"]) == cents(t["totalMontoGravado"]) == totals.tax_cents
    assert cents(t["totalFactura"]) == cents(t["totalTodosItems"]) == totals.total_cents
    assert cents(t["totalPrecioNeto"]) + cents(t["totalITBMS"]) == cents(t["totalFactura"])
    assert cents(t["totalValorRecibido"]) == 5000 and cents(t["vuelto"]) == 5000 - totals.total_cents
    assert t["totalISC"] == "0.00" and t["totalDescuento"] == "0.00"
    assert t["tiempoPago"] == "1" and t["nroItems"] == "4"
    assert t["listaFormaPago"]["formaPago"] == [{"formaPagoFact": "02", "valorCuotaPagada": "50.00"}]
    # each item is the rFE's gItem, figure for figure
    rfe = ET.fromstring(fiscal.build_xml(doc, ISSUER))
    items = sent["listaItems"]["item"]
    assert [i["tasaITBMS"] for i in items] == ["00", "01", "02", "03"]
    for item, g, amounts in zip(items, rfe.findall("d:gItem", NS), totals.items, strict=True):
        assert item["descripcion"] == g.findtext("d:dDescProd", namespaces=NS)
        assert item["codigo"] == g.findtext("d:dCodProd", namespaces=NS)
        assert item["cantidad"] == g.findtext("d:dCantCodInt", namespaces=NS)
        assert item["precioUnitario"] == g.findtext("d:gPrecios/d:dPrUnit", namespaces=NS)
        assert item["precioUnitarioDescuento"] == (g.findtext("d:gPrecios/d:dPrUnitDesc", namespaces=NS)
                                                   or "0.000000")
        assert item["precioItem"] == g.findtext("d:gPrecios/d:dPrItem", namespaces=NS)
        assert item["valorTotal"] == g.findtext("d:gPrecios/d:dValTotItem", namespaces=NS)
        assert item["valorITBMS"] == g.findtext("d:gITBMSItem/d:dValITBMS", namespaces=NS)
        assert cents(item["precioItem"]) + cents(item["valorITBMS"]) == cents(item["valorTotal"]) \
            == amounts.total_cents
    assert t["totalPrecioNeto"] == rfe.findtext("d:gTot/d:dTotNeto", namespaces=NS)
    assert t["totalITBMS"] == rfe.findtext("d:gTot/d:dTotITBMS", namespaces=NS)
    assert t["totalFactura"] == rfe.findtext("d:gTot/d:dVTot", namespaces=NS)
    # the discounts are on the items: every line has its share of the money-off, Jabón and Ron their own too
    assert all(i["precioUnitarioDescuento"] != "0.000000" for i in items)
    # the taxpayer buyer
    assert sent["datosTransaccion"]["cliente"] == {
        "tipoClienteFE": "01", "tipoContribuyente": "1", "numeroRUC": "8-274-125", "digitoVerificadorRUC": "91",
        "razonSocial": "Juan Pérez", "direccion": "Vía España 12", "pais": "PA"}


def test_a_credit_note_carries_the_invoices_cufe(hka_server):
    invoice = sale(number=17)
    authorized = send(hka_server, invoice)
    note = FiscalDocument(kind="credit_note", number=18, issued_at=AT + timedelta(hours=2),
                          security_code="987654321", lines=(FiscalLine("Café", "C1", -1, 250, tax_rate_bp=700),),
                          payments=(FiscalPayment("cash", 250),), reference_cufe=authorized.cufe,
                          reference_issued_at=AT)
    answer = send(hka_server, note)
    assert answer.authorized and answer.cufe[2:4] == "04"
    data = hka_server.enviar[1]["documento"]["datosTransaccion"]
    assert (data["tipoDocumento"], data["naturalezaOperacion"]) == ("04", "11")
    assert "tipoVenta" not in data   # not a sale
    assert data["listaDocsFiscalReferenciados"]["docFiscalReferenciado"] == [
        {"fechaEmisionDocFiscalReferenciado": "2024-03-20T10:15:00-05:00", "cufeFEReferenciada": authorized.cufe}]
    item = hka_server.enviar[1]["documento"]["listaItems"]["item"][0]
    assert item["cantidad"] == "1.00" and item["valorTotal"] == "2.50"   # the refund's quantity, written positive


def test_a_contingency_document_says_when_and_why(hka_server):
    doc = sale(number=19, emission="contingency", contingency_started_at=AT - timedelta(minutes=30),
               contingency_reason="Sin conexión con el PAC desde las 09:45")
    answer = send(hka_server, doc)
    data = hka_server.enviar[0]["documento"]["datosTransaccion"]
    assert data["tipoEmision"] == "02"
    assert data["fechaInicioContingencia"] == "2024-03-20T09:45:00-05:00"
    assert data["motivoContingencia"] == "Sin conexión con el PAC desde las 09:45"
    assert answer.authorized and answer.cufe[-11:-10] == "2" and answer.cufe[-13:-11] == "02"

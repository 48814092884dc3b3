"""The PAC (Proveedor Autorizado Calificado) that authorizes Panama's electronic invoices, behind one interface.

`Provider.send(doc, issuer, xml)` hands a document to the PAC and returns its `Answer` (authorized, with the
CUFE and QR to print, or rejected, with the PAC's code and message kept as given), or raises `Unavailable`
when nothing settles the document (timeout, refused connection, HTTP error, a body that is not the
protocol's answer): the caller keeps the document and sends it again later.

`HkaProvider` speaks The Factory HKA's SOAP 1.1 web service (sources in docs/fiscal.md, "The provider
(PAC): The Factory HKA"): operation `Enviar` with the document as HKA's own fields (HKA builds the rFE,
signs it with the certificate it holds for the issuer and has the DGI authorize it: no XML and no
signature travel from here), and `EstadoDocumento` to find an authorization already made. Sending is
idempotent per document number: when `Enviar` does not authorize, the number is looked up; if HKA already
holds an authorized document for it (a retry after a lost answer), that authorization is the answer, so one
sale never becomes two documents.

Money comes from `fiscal.document_totals` (integer cents), written with two decimals (unit prices with
six, as in the rFE): the figures sent are the rFE's, computed once.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tui_pos.domain import ruc as ruc_rules
from tui_pos.domain.fiscal import (
    DOC_TYPES,
    EMISSION_TYPES,
    OPERATION_NATURES,
    OTHER_PAYMENT,
    PAYMENT_CODES,
    RECEIVER_TYPES,
    FiscalDocument,
    FiscalPayment,
    FiscalTotals,
    Issuer,
    ItemAmounts,
    cufe,
    document_totals,
    local_time,
)


@dataclass(frozen=True)
class Answer:
    authorized: bool       # True: the PAC/DGI authorized it; False: rejected (with code and message)
    cufe: str = ""         # the CUFE the PAC returns (authorized)
    qr: str = ""           # the QR URL the PAC returns, printed as is on the receipt
    protocol: str = ""     # the authorization protocol / number, when the PAC returns one
    received_at: str = ""  # the DGI's reception date-time as the PAC gives it, when it does
    code: str = ""         # the provider's result code, kept as given
    message: str = ""      # the provider's message, kept as given


class Unavailable(Exception):
    """No answer that settles the document: timeout, refused connection, HTTP 5xx, a body that is not the
    protocol's answer. The caller keeps the document (pending or contingency) and sends it again later."""


class Provider(Protocol):
    name: str

    def send(self, doc: FiscalDocument, issuer: Issuer, xml: bytes) -> Answer: ...


# --- The Factory HKA ---------------------------------------------------------------------------------------

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI = "http://tempuri.org/"
# The data contracts: Enviar's document, and the other operations' datosDocumento (docs/fiscal.md).
NS_DOCUMENT = "http://schemas.datacontract.org/2004/07/Services.ObjComprobante.v1_0"
NS_MODEL = "http://schemas.datacontract.org/2004/07/Services.Model"
DEMO_URL = "https://demoemision.thefactoryhka.com.pa/ws/obj/v1.0/Service.svc"
PRODUCTION_URL = "https://emision.thefactoryhka.com.pa/ws/obj/v1.0/Service.svc"
SUCCESS = "200"            # codigo of an operation that succeeded (Enviar: the document is authorized)
AUTHORIZED_STATUS = "autoriz"   # EstadoDocumento's estatusDocumento "Autorizada" (matched without case)

# HKA's codes for the rFE's fixed values (the domain writes the same in the rFE, docs/fiscal.md).
_BRANCH_RETAIL = "1"       # tipoSucursal: mostly retail operations
_OPERATION_SALE = "1"      # tipoOperacion
_DESTINATION_PANAMA = "1"  # destinoOperacion
_CAFE_FORMAT_ROLL = "2"    # formatoCAFE: paper roll
_CAFE_DELIVERY_PAPER = "2"  # entregaCAFE: handed over on paper
_CONTAINER_NORMAL = "1"    # envioContenedor
_GENERATED_BY_ISSUER = "1"  # procesoGeneracion
_SALE_OF_THE_BUSINESS = "1"  # tipoVenta (not on a credit note)
_PAY_NOW = "1"             # tiempoPago: immediate
_COUNTRY = "PA"

_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class HkaProvider:
    """The Factory HKA's SOAP web service: `Enviar`, and `EstadoDocumento` to make a retry idempotent."""

    name = "hka"

    def __init__(self, url: str, token_company: str, token_password: str, timeout: float = 10.0) -> None:
        self.url = url
        self.token_company = token_company
        self.token_password = token_password
        self.timeout = timeout

    def send(self, doc: FiscalDocument, issuer: Issuer, xml: bytes) -> Answer:
        """Send the document; `xml` (the unsigned rFE) is not sent: HKA builds and signs its own from the fields.

        Raises InputError (from the domain) for a document that cannot be built, Unavailable when HKA's
        answer does not settle it.
        """
        envelope = enviar_envelope(doc, issuer, self.token_company, self.token_password)
        result = self._call("Enviar", envelope)
        code = result.get("codigo", "")
        if not code:
            raise Unavailable("HKA Enviar: the answer has no codigo.")
        message = result.get("mensaje") or result.get("resultado", "")
        if code == SUCCESS:
            if not result.get("cufe"):
                raise Unavailable(f"HKA Enviar: code {code} without a CUFE ({message}).")
            return Answer(authorized=True, cufe=result["cufe"], qr=result.get("qr", ""),
                          protocol=result.get("nroprotocoloautorizacion", ""),
                          received_at=result.get("fecharecepciondgi", ""), code=code, message=message)
        existing = self.existing(doc, issuer)
        if existing is not None:
            return existing
        return Answer(authorized=False, code=code, message=message)

    def existing(self, doc: FiscalDocument, issuer: Issuer) -> Answer | None:
        """The authorization HKA already holds for this document's number, or None.

        Only an authorized document whose CUFE names this very document (type, RUC, DV, branch, date,
        number, point and environment: everything but the emission type, HKA's security code and the check
        digit) counts; anything else leaves the rejection as HKA gave it. The emission type may differ: a
        first send whose answer was lost (authorized as normal, 01) and a retry made after the receipt went
        to contingency (02) are one document, the number's, which the DGI already holds.
        """
        envelope = estado_envelope(doc, issuer, self.token_company, self.token_password)
        result = self._call("EstadoDocumento", envelope)
        found = result.get("cufe", "")
        if (result.get("codigo") != SUCCESS or AUTHORIZED_STATUS not in result.get("estatusdocumento", "").lower()
                or not found or not same_document(found, cufe(doc, issuer))):
            return None
        return Answer(authorized=True, cufe=found, qr=result.get("qr", ""),
                      protocol=result.get("nroprotocoloautorizacion", ""),
                      received_at=result.get("fecharecepciondocumento", ""), code=result.get("codigo", ""),
                      message=result.get("mensajedocumento") or result.get("mensaje", ""))

    def _call(self, operation: str, envelope: bytes) -> dict[str, str]:
        """POST one SOAP 1.1 request; the fields of `<operation>Result`, by lower-cased local name."""
        request = urllib.request.Request(self.url, data=envelope, method="POST", headers={
            "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{TEMPURI}IService/{operation}"'})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read()
        except urllib.error.HTTPError as e:
            raise Unavailable(f"HKA {operation}: HTTP {e.code}{_fault(e)}") from None
        except urllib.error.URLError as e:
            raise Unavailable(f"HKA {operation}: {e.reason}") from None
        except (OSError, http.client.HTTPException) as e:   # timeouts (TimeoutError), resets, bad status lines
            raise Unavailable(f"HKA {operation}: {type(e).__name__}: {e}") from None
        return parse_result(body, operation)


def same_document(found: str, ours: str) -> bool:
    """Two CUFEs of one document: equal but for the emission type (iTpEmis, 2 characters), the security
    code (dSeg, 9) and the check digit; the environment (iAmb, the 1 between them) must agree."""
    return len(found) == len(ours) == 66 and found[:-13] == ours[:-13] and found[-11] == ours[-11]


def parse_result(body: bytes, operation: str) -> dict[str, str]:
    """The children of `<operation>Result` in a SOAP answer, keyed by lower-cased local name.

    Raises Unavailable for a body that is not XML or holds no such result (a SOAP fault included)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise Unavailable(f"HKA {operation}: the answer is not XML ({e}).") from None
    for element in root.iter():
        if _local(element.tag) == f"{operation}Result":
            return {_local(child.tag).lower(): (child.text or "").strip() for child in element}
    fault = next((e.text or "" for e in root.iter() if _local(e.tag) == "faultstring"), "")
    raise Unavailable(f"HKA {operation}: no {operation}Result in the answer{': ' + fault if fault else ''}.")


def _fault(error: urllib.error.HTTPError) -> str:
    """A SOAP fault's text from an HTTP error's body, when there is one (WCF answers faults with 500)."""
    try:
        root = ET.fromstring(error.read())
    except (ET.ParseError, OSError):
        return ""
    text = next((e.text or "" for e in root.iter() if _local(e.tag) == "faultstring"), "")
    return f" ({text.strip()})" if text.strip() else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# --- the requests ------------------------------------------------------------------------------------------


def _envelope(namespace: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("soapenv:Envelope", {"xmlns:soapenv": SOAP_ENV, "xmlns:tem": TEMPURI, "xmlns:ser": namespace})
    ET.SubElement(root, "soapenv:Header")
    return root, ET.SubElement(root, "soapenv:Body")


def _credentials(operation: ET.Element, token_company: str, token_password: str) -> None:
    _add(operation, "tem:tokenEmpresa", token_company)
    _add(operation, "tem:tokenPassword", token_password)


def _bytes(root: ET.Element) -> bytes:
    data: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data


def enviar_envelope(doc: FiscalDocument, issuer: Issuer, token_company: str, token_password: str) -> bytes:
    """The SOAP request of `Enviar`: the document as HKA's fields, in the order of HKA's examples."""
    cufe(doc, issuer)   # validates the header and the issuer (InputError naming the field)
    totals = document_totals(doc)
    root, body = _envelope(NS_DOCUMENT)
    operation = ET.SubElement(body, "tem:Enviar")
    _credentials(operation, token_company, token_password)
    document = ET.SubElement(operation, "tem:documento")
    _add(document, "ser:codigoSucursalEmisor", _branch(issuer))
    _add(document, "ser:tipoSucursal", _BRANCH_RETAIL)
    _transaction(ET.SubElement(document, "ser:datosTransaccion"), doc, issuer)
    items = ET.SubElement(document, "ser:listaItems")
    for item in totals.items:
        _item(ET.SubElement(items, "ser:item"), item)
    _totals(ET.SubElement(document, "ser:totalesSubTotales"), doc, totals)
    return _bytes(root)


def estado_envelope(doc: FiscalDocument, issuer: Issuer, token_company: str, token_password: str) -> bytes:
    """The SOAP request of `EstadoDocumento` for the document's number, point, branch, type and emission."""
    root, body = _envelope(NS_MODEL)
    operation = ET.SubElement(body, "tem:EstadoDocumento")
    _credentials(operation, token_company, token_password)
    data = ET.SubElement(operation, "tem:datosDocumento")
    _add(data, "ser:codigoSucursalEmisor", _branch(issuer))
    _add(data, "ser:numeroDocumentoFiscal", f"{doc.number:010d}")
    _add(data, "ser:puntoFacturacionFiscal", f"{issuer.point:03d}")
    _add(data, "ser:tipoDocumento", DOC_TYPES[doc.kind])
    _add(data, "ser:tipoEmision", EMISSION_TYPES[doc.emission])
    return _bytes(root)


def _transaction(t: ET.Element, doc: FiscalDocument, issuer: Issuer) -> None:
    """datosTransaccion: gDGen's identity and codes, the receiver, and the invoice a credit note refers to."""
    _add(t, "ser:tipoEmision", EMISSION_TYPES[doc.emission])
    if doc.contingency_started_at is not None:
        _add(t, "ser:fechaInicioContingencia", _stamp(doc.contingency_started_at))
        _add(t, "ser:motivoContingencia", _text(doc.contingency_reason, 250))
    _add(t, "ser:tipoDocumento", DOC_TYPES[doc.kind])
    _add(t, "ser:numeroDocumentoFiscal", f"{doc.number:010d}")
    _add(t, "ser:puntoFacturacionFiscal", f"{issuer.point:03d}")
    _add(t, "ser:fechaEmision", _stamp(doc.issued_at))
    _add(t, "ser:naturalezaOperacion", OPERATION_NATURES[doc.kind])
    _add(t, "ser:tipoOperacion", _OPERATION_SALE)
    _add(t, "ser:destinoOperacion", _DESTINATION_PANAMA)
    _add(t, "ser:formatoCAFE", _CAFE_FORMAT_ROLL)
    _add(t, "ser:entregaCAFE", _CAFE_DELIVERY_PAPER)
    _add(t, "ser:envioContenedor", _CONTAINER_NORMAL)
    _add(t, "ser:procesoGeneracion", _GENERATED_BY_ISSUER)
    if doc.kind == "invoice":
        _add(t, "ser:tipoVenta", _SALE_OF_THE_BUSINESS)
    _client(ET.SubElement(t, "ser:cliente"), doc)
    if doc.kind == "credit_note":
        assert doc.reference_issued_at is not None   # checked by the domain (cufe above)
        reference = ET.SubElement(ET.SubElement(t, "ser:listaDocsFiscalReferenciados"), "ser:docFiscalReferenciado")
        _add(reference, "ser:fechaEmisionDocFiscalReferenciado", _stamp(doc.reference_issued_at))
        _add(reference, "ser:cufeFEReferenciada", doc.reference_cufe)


def _client(c: ET.Element, doc: FiscalDocument) -> None:
    """cliente: a final consumer is its type and country only; a taxpayer adds RUC, DV, name and address."""
    receiver = doc.receiver
    _add(c, "ser:tipoClienteFE", RECEIVER_TYPES[receiver.kind])
    if receiver.ruc is not None:
        nt_person = "natural" if receiver.ruc_type == 1 else "juridical"
        dv = ruc_rules.check(receiver.ruc, receiver.dv, nt_person)
        _add(c, "ser:tipoContribuyente", str(receiver.ruc_type))
        _add(c, "ser:numeroRUC", ruc_rules.normalize(receiver.ruc))
        _add(c, "ser:digitoVerificadorRUC", dv)
        _add(c, "ser:razonSocial", _text(receiver.name, 200))
        if receiver.address.strip():
            _add(c, "ser:direccion", _text(receiver.address, 100))
    _add(c, "ser:pais", _COUNTRY)


def _item(i: ET.Element, item: ItemAmounts) -> None:
    """item: one gItem, its figures from item_amounts (precioItem = cantidad x (precioUnitario - descuento))."""
    _add(i, "ser:descripcion", _text(item.line.description, 500))
    code = _text(item.line.code, 20)
    if code:
        _add(i, "ser:codigo", code)
    _add(i, "ser:cantidad", f"{item.qty}.00")
    _add(i, "ser:precioUnitario", _micros(item.unit_micros))
    _add(i, "ser:precioUnitarioDescuento", _micros(item.unit_discount_micros))
    _add(i, "ser:precioItem", _cents(item.net_cents))
    _add(i, "ser:valorTotal", _cents(item.total_cents))
    _add(i, "ser:tasaITBMS", item.rate_code)
    _add(i, "ser:valorITBMS", _cents(item.tax_cents))


def _totals(t: ET.Element, doc: FiscalDocument, totals: FiscalTotals) -> None:
    """totalesSubTotales: gTot (no ISC; the app's discounts are all on the items, so totalDescuento is 0)."""
    _add(t, "ser:totalPrecioNeto", _cents(totals.net_cents))
    _add(t, "ser:totalITBMS", _cents(totals.tax_cents))
    _add(t, "ser:totalISC", _cents(0))
    _add(t, "ser:totalMontoGravado", _cents(totals.tax_cents))
    _add(t, "ser:totalDescuento", _cents(0))
    _add(t, "ser:totalFactura", _cents(totals.total_cents))
    _add(t, "ser:totalValorRecibido", _cents(totals.received_cents))
    if totals.change_cents:
        _add(t, "ser:vuelto", _cents(totals.change_cents))
    _add(t, "ser:tiempoPago", _PAY_NOW)
    _add(t, "ser:nroItems", str(len(totals.items)))
    _add(t, "ser:totalTodosItems", _cents(totals.total_cents))
    payments = ET.SubElement(t, "ser:listaFormaPago")
    for payment in doc.payments:
        _payment(ET.SubElement(payments, "ser:formaPago"), payment)


def _payment(p: ET.Element, payment: FiscalPayment) -> None:
    code = payment.code if payment.code is not None else PAYMENT_CODES.get(payment.tender.strip().lower(),
                                                                           OTHER_PAYMENT)
    _add(p, "ser:formaPagoFact", code)
    if code == OTHER_PAYMENT:   # 10 to 100 characters, as the rFE's dFormaPagoDesc
        _add(p, "ser:descFormaPago", _text(f"Pago con {payment.tender}", 100).ljust(10, "."))
    _add(p, "ser:valorCuotaPagada", _cents(payment.amount_cents))


# --- formats -----------------------------------------------------------------------------------------------


def _add(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _branch(issuer: Issuer) -> str:
    return issuer.branch.rjust(4, "0")


def _cents(value: int) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


def _micros(value: int) -> str:
    return f"{value // 1_000_000}.{value % 1_000_000:06d}"


def _stamp(moment: datetime) -> str:
    return local_time(moment).isoformat(timespec="seconds")


def _text(value: str, limit: int) -> str:
    return _XML_UNSAFE.sub("", value).strip()[:limit]

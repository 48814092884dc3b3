"""The DGI rFE document (Panama's electronic invoice) against hand-worked examples.

Every figure below is worked out in the comments: a line's amount is what the receipt charges for it
(tax included); its ITBMS is `tax_of_inclusive` of that amount (base = round(amount / (1 + rate)),
tax = amount - base); dPrItem is the base. Unit prices are in balboas with 6 decimals.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_pos.domain.errors import InputError
from tui_pos.domain.fiscal import (
    NAMESPACE,
    FiscalDocument,
    FiscalLine,
    FiscalPayment,
    Issuer,
    Location,
    Receiver,
    build_xml,
    consultation_url,
    cufe,
    cufe_check_digit,
    cufe_is_valid,
    document_totals,
    item_amounts,
    qr_url,
)
from tui_pos.domain.pricing import PricedLine, line_amounts, note_totals

PANAMA = timezone(timedelta(hours=-5))
NS = {"d": NAMESPACE}
AT = datetime(2024, 3, 20, 10, 15, tzinfo=PANAMA)

# The Factory HKA's public demo issuer (RUC 155596713-2-2015, DV 59: the app's ruc module agrees).
ISSUER = Issuer(ruc="155596713-2-2015", dv="59", ruc_type=2, name="Tienda de Prueba, S.A.", branch="0000",
                point=1, address="Calle 50, Ciudad de Panamá", environment=2)

# CUFEs published by the DGI's consultation pages, the PAC's documentation and a test-environment document
# (sources in docs/fiscal.md): their last digit is the check digit of the 63 characters before it.
PUBLISHED_CUFES = [
    "FE01200002679372-1-844914-7300002025051500311570140020317481978892",
    "FE01200000045400-2-299934-0900002022050500000000389990117686690628",
    "FE0120000000138-289-35920-0489172020090301000861280010117979798825",
    "FE0120000155596713-2-2015-5900012019052800055000155650121566749040",
    "FE012000000521-136-113133-0270062022051590000008910080125781091727",
    "FE0120000155646463-2-2017-8600012024032052095049600010128158741019",
]
INVOICE_CUFE = PUBLISHED_CUFES[3]


def sale(*lines: FiscalLine, paid: int | None = None, tender: str = "cash", **fields: object) -> FiscalDocument:
    """An invoice paid exactly with `tender`, or with `paid` and the change given back."""
    doc = FiscalDocument(kind="invoice", number=1, issued_at=AT, security_code="123456789", lines=lines,
                         payments=())
    doc = replace(doc, **fields)
    total = sum(item.total_cents for item in item_amounts(doc))
    amount = total if paid is None else paid
    return replace(doc, payments=(FiscalPayment(tender, amount),), change_cents=amount - total)


def parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)


def text(root: ET.Element, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None, f"{path} missing"
    return found.text or ""


def cents(value: str) -> int:
    whole, _, frac = value.partition(".")
    assert len(frac) == 2, value
    return int(whole) * 100 + int(frac)


def micros(value: str) -> int:
    whole, _, frac = value.partition(".")
    assert len(frac) == 6, value
    return int(whole) * 1_000_000 + int(frac)


def items(root: ET.Element) -> list[ET.Element]:
    return root.findall("d:gItem", NS)


def children(element: ET.Element) -> list[str]:
    return [child.tag.split("}", 1)[1] for child in element]


# --- mixed rates, a line discount, an Offered line ----------------------------------------------------------

MIXED = (
    FiscalLine("Arroz 1 lb", "A1", 2, 150, 0, 0),           # 2 x 1.50 at 0 %
    FiscalLine("Café molido", "C1", 1, 535, 0, 700),        # 5.35 at 7 %
    FiscalLine("Cerveza", "B1", 3, 110, 30, 1000),          # 3 x 1.10 at 10 %, 0.30 off the line
    FiscalLine("Cigarrillos", "T1", 1, 460, 0, 1500),       # 4.60 at 15 %
    FiscalLine("Galletas (puntos)", "G1", 1, 214, 214, 700),  # Offered for points: its whole value off
)


def test_mixed_rates_line_discount_and_offered_line():
    # Arroz:       amount 3.00 at 0 %:  tax 0.00, dPrItem 3.00, dPrUnit 3.00/2 = 1.500000
    # Café:        amount 5.35 at 7 %:  base round(535/1.07) = 500 -> dPrItem 5.00, tax 0.35
    # Cerveza:     gross 3.30, less 0.30 = 3.00 at 10 %: base round(300/1.1 = 272.73) = 273 -> 2.73, tax 0.27
    #              undiscounted base round(330/1.1) = 300: dPrUnit 3.00/3 = 1.000000,
    #              dPrUnitDesc 1.000000 - 2.73/3 (0.910000) = 0.090000; 3 x (1.00 - 0.09) = 2.73
    # Cigarrillos: amount 4.60 at 15 %: base round(460/1.15) = 400 -> 4.00, tax 0.60
    # Galletas:    gross 2.14 at 7 % (base 2.00), all of it off: dPrUnit 2.000000 = dPrUnitDesc, dPrItem 0.00
    # dTotNeto 3.00 + 5.00 + 2.73 + 4.00 + 0 = 14.73; dTotITBMS 0.35 + 0.27 + 0.60 = 1.22; dVTot 15.95
    # paid 20.00 in cash: change 4.05
    root = parse(build_xml(sale(*MIXED, paid=2000), ISSUER))
    rows = [(text(i, "d:gITBMSItem/d:dTasaITBMS"), text(i, "d:gPrecios/d:dPrUnit"),
             i.findtext("d:gPrecios/d:dPrUnitDesc", None, NS), text(i, "d:gPrecios/d:dPrItem"),
             text(i, "d:gITBMSItem/d:dValITBMS"), text(i, "d:gPrecios/d:dValTotItem")) for i in items(root)]
    assert rows == [
        ("00", "1.500000", None, "3.00", "0.00", "3.00"),
        ("01", "5.000000", None, "5.00", "0.35", "5.35"),
        ("02", "1.000000", "0.090000", "2.73", "0.27", "3.00"),
        ("03", "4.000000", None, "4.00", "0.60", "4.60"),
        ("01", "2.000000", "2.000000", "0.00", "0.00", "0.00"),
    ]
    assert [text(i, "d:dCantCodInt") for i in items(root)] == ["2.00", "1.00", "3.00", "1.00", "1.00"]
    tot = {name: text(root, f"d:gTot/d:{name}") for name in
           ("dTotNeto", "dTotITBMS", "dTotGravado", "dTotDesc", "dVTot", "dTotRec", "dVuelto", "dNroItems",
            "dVTotItems")}
    assert tot == {"dTotNeto": "14.73", "dTotITBMS": "1.22", "dTotGravado": "1.22", "dTotDesc": "0.00",
                   "dVTot": "15.95", "dTotRec": "20.00", "dVuelto": "4.05", "dNroItems": "5",
                   "dVTotItems": "15.95"}
    assert cents(tot["dTotNeto"]) + cents(tot["dTotITBMS"]) == cents(tot["dVTot"])
    assert text(root, "d:gTot/d:gFormaPago/d:iFormaPago") == "02"       # cash: efectivo
    assert text(root, "d:gTot/d:gFormaPago/d:dVlrCuota") == "20.00"


def test_the_document_total_is_the_receipts():
    # The same lines through the receipt's pricing (the Offered line as offered_qty): 15.95 both ways,
    # and the tax per rate is the receipt's too (one line per rate: 0.35, 0.27, 0.60).
    receipt = note_totals([
        PricedLine(2, 150, 0), PricedLine(1, 535, 700), PricedLine(3, 110, 1000, discount_cents=30),
        PricedLine(1, 460, 1500), PricedLine(1, 214, 700, offered_qty=1),
    ])
    totals = document_totals(sale(*MIXED))
    assert receipt.total_cents == totals.total_cents == 1595
    assert receipt.tax_cents == totals.tax_cents == 122


# --- the loyalty money-off ---------------------------------------------------------------------------------


def test_loyalty_money_off_is_spread_over_the_items_as_the_receipt_spreads_it():
    # Lines: Leche 2.00 at 0 %, Jabón 2 x 1.07 at 7 %, Vino 9.20 at 15 %: 13.34; 1.00 off paid with points.
    # Over the rates in proportion (as note_totals): 100 x 200/1334 = 14.99, x 214/1334 = 16.04,
    # x 920/1334 = 68.97 -> 14, 16, 68 (98) and the 2 cents left to the largest remainders (0 % and 15 %):
    # 15, 16, 69. Amounts: Leche 1.85, Jabón 1.98, Vino 8.51 = 12.34 = 13.34 - 1.00.
    # Leche: tax 0, dPrItem 1.85; dPrUnit 2.000000, dPrUnitDesc 0.150000.
    # Jabón: base round(198/1.07 = 185.05) = 185 -> 1.85, tax 0.13; dPrUnit 2.00/2 = 1.000000,
    #        dPrUnitDesc 1.000000 - 1.85/2 = 0.075000; 2 x 0.925 = 1.85.
    # Vino:  base round(851/1.15) = 740 -> 7.40, tax 1.11; dPrUnit 8.000000 (920/1.15 = 800), desc 0.600000.
    # dTotNeto 1.85 + 1.85 + 7.40 = 11.10; dTotITBMS 0.13 + 1.11 = 1.24; dVTot 12.34. Paid by card, no change.
    lines = (FiscalLine("Leche", "L1", 1, 200, 0, 0), FiscalLine("Jabón", "J1", 2, 107, 0, 700),
             FiscalLine("Vino", "V1", 1, 920, 0, 1500))
    root = parse(build_xml(sale(*lines, tender="card", money_off_cents=100), ISSUER))
    rows = [(text(i, "d:gPrecios/d:dPrUnit"), text(i, "d:gPrecios/d:dPrUnitDesc"), text(i, "d:gPrecios/d:dPrItem"),
             text(i, "d:gITBMSItem/d:dValITBMS"), text(i, "d:gPrecios/d:dValTotItem")) for i in items(root)]
    assert rows == [
        ("2.000000", "0.150000", "1.85", "0.00", "1.85"),
        ("1.000000", "0.075000", "1.85", "0.13", "1.98"),
        ("8.000000", "0.600000", "7.40", "1.11", "8.51"),
    ]
    assert (text(root, "d:gTot/d:dTotNeto"), text(root, "d:gTot/d:dTotITBMS"), text(root, "d:gTot/d:dVTot")) == \
        ("11.10", "1.24", "12.34")
    assert root.find("d:gTot/d:dVuelto", NS) is None       # no change: not informed
    assert text(root, "d:gTot/d:gFormaPago/d:iFormaPago") == "03"
    receipt = note_totals([PricedLine(1, 200, 0), PricedLine(2, 107, 700), PricedLine(1, 920, 1500)],
                          redeemed_cents=100)
    assert receipt.total_cents == 1234
    assert [t.tax_cents for t in receipt.taxes] == [0, 13, 111]


# --- receivers ---------------------------------------------------------------------------------------------


def test_a_final_consumer_has_no_ruc():
    root = parse(build_xml(sale(MIXED[1]), ISSUER))
    receiver = root.find("d:gDGen/d:gDatRec", NS)
    assert receiver is not None
    assert children(receiver) == ["iTipoRec", "cPaisRec"]
    assert text(receiver, "d:iTipoRec") == "02"


def test_a_customer_with_a_ruc_is_a_taxpayer():
    # 8-274-125 has DV 91 (the DGI's example 4, also in dv_vectors.csv): a natural person, type 1.
    buyer = Receiver(ruc="8-274-125", dv="91", ruc_type=1, name="Juan Pérez", address="Vía España 12")
    root = parse(build_xml(sale(MIXED[1], receiver=buyer), ISSUER))
    receiver = root.find("d:gDGen/d:gDatRec", NS)
    assert receiver is not None
    assert children(receiver) == ["iTipoRec", "gRucRec", "dNombRec", "dDirecRec", "cPaisRec"]
    assert text(receiver, "d:iTipoRec") == "01"
    assert (text(receiver, "d:gRucRec/d:dTipoRuc"), text(receiver, "d:gRucRec/d:dRuc"),
            text(receiver, "d:gRucRec/d:dDV")) == ("1", "8-274-125", "91")
    assert text(receiver, "d:dNombRec") == "Juan Pérez"


# --- the document's header and order ----------------------------------------------------------------------


def test_header_and_element_order():
    issuer = replace(ISSUER, location=Location("8-8-7", "Bella Vista", "Panamá", "Panamá"))
    root = parse(build_xml(sale(MIXED[1], number=176), issuer))
    assert root.tag == f"{{{NAMESPACE}}}rFE"
    assert children(root) == ["dVerForm", "dId", "gDGen", "gItem", "gTot"]
    general = root.find("d:gDGen", NS)
    assert general is not None
    assert children(general) == ["iAmb", "iTpEmis", "iDoc", "dNroDF", "dPtoFacDF", "dSeg", "dFechaEm", "iNatOp",
                                 "iTipoOp", "iDest", "iFormCAFE", "iEntCAFE", "dEnvFE", "iProGen", "iTipoTranVenta",
                                 "gEmis", "gDatRec"]
    assert (text(general, "d:iDoc"), text(general, "d:dNroDF"), text(general, "d:dPtoFacDF"),
            text(general, "d:dFechaEm"), text(general, "d:iNatOp")) == \
        ("01", "0000000176", "001", "2024-03-20T10:15:00-05:00", "01")
    emis = general.find("d:gEmis", NS)
    assert emis is not None
    assert children(emis) == ["gRucEmi", "dNombEm", "dSucEm", "dDirecEm", "gUbiEm"]
    assert children(items(root)[0]) == ["dSecItem", "dDescProd", "dCodProd", "dCantCodInt", "gPrecios",
                                        "gITBMSItem"]
    tot = root.find("d:gTot", NS)
    assert tot is not None
    assert children(tot) == ["dTotNeto", "dTotITBMS", "dTotGravado", "dTotDesc", "dVTot", "dTotRec", "iPzPag",
                             "dNroItems", "dVTotItems", "gFormaPago"]
    assert text(root, "d:dVerForm") == "1.00"
    assert text(root, "d:dId") == cufe(sale(MIXED[1], number=176), issuer)


def test_the_xml_is_utf8_with_its_accents():
    xml = build_xml(sale(FiscalLine("Café \x1b ñandú", "", 1, 100, 0, 0)), ISSUER)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "Café  ñandú".encode() in xml                  # the escape character is dropped, the accents kept
    assert parse(xml).find("d:gItem/d:dCodProd", NS) is None   # no code: not informed


# --- credit note and contingency ---------------------------------------------------------------------------


def test_credit_note_refers_to_the_invoice_by_cufe():
    # A refund of one Café (5.35 at 7 %), recorded as the refund note does (quantity -1):
    # the credit note shows quantity 1, dPrItem 5.00, ITBMS 0.35, total 5.35, given back in cash.
    invoiced = datetime(2019, 5, 28, 9, 0, tzinfo=PANAMA)
    doc = FiscalDocument(kind="credit_note", number=2, issued_at=AT, security_code="987654321",
                         lines=(FiscalLine("Café molido", "C1", -1, 535, 0, 700),),
                         payments=(FiscalPayment("cash", 535),), reference_cufe=INVOICE_CUFE,
                         reference_issued_at=invoiced)
    root = parse(build_xml(doc, ISSUER))
    general = root.find("d:gDGen", NS)
    assert general is not None
    assert (text(general, "d:iDoc"), text(general, "d:iNatOp")) == ("04", "11")
    assert "iTipoTranVenta" not in children(general)      # not a sale: not informed
    assert children(general)[-1] == "gDFRef"
    ref = general.find("d:gDFRef", NS)
    assert ref is not None
    assert children(ref) == ["gRucEmDFRef", "dNombEmRef", "dFechaDFRef", "gDFRefNum"]
    assert text(ref, "d:gDFRefNum/d:gDFRefFE/d:dCUFERef") == INVOICE_CUFE
    assert text(ref, "d:dFechaDFRef") == "2019-05-28T09:00:00-05:00"
    assert text(ref, "d:gRucEmDFRef/d:dRuc") == "155596713-2-2015"
    item = items(root)[0]
    assert (text(item, "d:dCantCodInt"), text(item, "d:gPrecios/d:dPrItem"), text(item, "d:gITBMSItem/d:dValITBMS"),
            text(item, "d:gPrecios/d:dValTotItem")) == ("1.00", "5.00", "0.35", "5.35")
    assert text(root, "d:gTot/d:dVTot") == "5.35"
    assert cufe(doc, ISSUER)[2:4] == "04"


def test_contingency_emission():
    started = datetime(2024, 3, 20, 9, 40, tzinfo=PANAMA)
    doc = sale(MIXED[1], emission="contingency", contingency_started_at=started,
               contingency_reason="Sin conexión con el proveedor autorizado")
    root = parse(build_xml(doc, ISSUER))
    general = root.find("d:gDGen", NS)
    assert general is not None
    assert children(general)[:5] == ["iAmb", "iTpEmis", "dFechaCont", "dMotCont", "iDoc"]
    assert (text(general, "d:iTpEmis"), text(general, "d:dFechaCont")) == ("02", "2024-03-20T09:40:00-05:00")
    assert text(general, "d:dMotCont") == "Sin conexión con el proveedor autorizado"
    body = cufe(doc, ISSUER)[2:]
    assert body[51:53] == "02"                       # iTpEmis inside the CUFE
    assert cufe(sale(MIXED[1]), ISSUER)[2:][51:53] == "01"


# --- the CUFE ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("published", PUBLISHED_CUFES)
def test_published_cufes_pass_the_check_digit(published):
    assert cufe_is_valid(published)
    body, digit = published[2:-1], int(published[-1])
    assert cufe_check_digit(body) == digit
    wrong = published[:-1] + str((digit + 1) % 10)
    assert not cufe_is_valid(wrong)


def test_cufe_rebuilt_from_the_fields_of_published_documents():
    # FE|01|2|0000155596713-2-2015|-59|0001|20190528|0005500015|565|01|2|156674904|0 (the PAC's example answer)
    issuer = replace(ISSUER, branch="0001", point=565, environment=2)
    doc = replace(sale(MIXED[1]), number=5500015, issued_at=datetime(2019, 5, 28, 8, 0, tzinfo=PANAMA),
                  security_code="156674904")
    assert cufe(doc, issuer) == PUBLISHED_CUFES[3]
    # FE|01|2|000000521-136-113133|-02|7006|20220515|9000000891|008|01|2|578109172|7 (a test-environment rFE)
    issuer = replace(ISSUER, ruc="521-136-113133", dv="02", branch="7006", point=8, environment=2)
    doc = replace(doc, number=9000000891, issued_at=datetime(2022, 5, 15, 1, 0, tzinfo=PANAMA),
                  security_code="578109172")
    assert cufe(doc, issuer) == PUBLISHED_CUFES[4]


def test_cufe_date_is_panamas_date():
    # 02:30 UTC on the 21st is 21:30 on the 20th in Panama: the CUFE carries 20240320.
    utc = datetime(2024, 3, 21, 2, 30, tzinfo=UTC)
    doc = replace(sale(MIXED[1]), issued_at=utc)
    assert cufe(doc, ISSUER)[2:][30:38] == "20240320"
    assert text(parse(build_xml(doc, ISSUER)), "d:gDGen/d:dFechaEm") == "2024-03-20T21:30:00-05:00"


def test_qr_and_consultation_urls():
    assert qr_url(INVOICE_CUFE, 1, "abc+/=", "tok") == (
        f"https://dgi-fep.mef.gob.pa/Consultas/FacturasPorQR?chFE={INVOICE_CUFE}&iAmb=1&digestValue=abc+/=&jwt=tok")
    assert consultation_url(INVOICE_CUFE, 2) == (
        f"https://dgi-fep-test.mef.gob.pa:40001/Consultas/FacturasPorCUFE?CUFE={INVOICE_CUFE}")


# --- payments ----------------------------------------------------------------------------------------------


def test_unknown_tender_is_other_with_its_name():
    root = parse(build_xml(sale(MIXED[1], tender="Yappy"), ISSUER))
    payment = root.find("d:gTot/d:gFormaPago", NS)
    assert payment is not None
    assert children(payment) == ["iFormaPago", "dFormaPagoDesc", "dVlrCuota"]
    assert text(payment, "d:iFormaPago") == "99"
    assert text(payment, "d:dFormaPagoDesc") == "Pago con Yappy"


def test_explicit_payment_code_and_split_tenders():
    doc = replace(sale(MIXED[1]), payments=(FiscalPayment("card", 300, code="04"), FiscalPayment("cash", 500)),
                  change_cents=265)
    root = parse(build_xml(doc, ISSUER))
    assert [(text(p, "d:iFormaPago"), text(p, "d:dVlrCuota")) for p in root.findall("d:gTot/d:gFormaPago", NS)] \
        == [("04", "3.00"), ("02", "5.00")]
    assert (text(root, "d:gTot/d:dTotRec"), text(root, "d:gTot/d:dVuelto")) == ("8.00", "2.65")


# --- impossible input --------------------------------------------------------------------------------------

GOOD = sale(MIXED[1])


@pytest.mark.parametrize("doc,fragment", [
    (replace(GOOD, lines=()), "lines are empty"),
    (replace(GOOD, lines=(replace(MIXED[1], qty=-1),)), "negative quantity on an invoice"),
    (replace(GOOD, lines=(replace(MIXED[1], qty=0),)), "quantity 0"),
    (replace(GOOD, lines=(replace(MIXED[1], tax_rate_bp=800),)), "tax rate 8.00 %"),
    (replace(GOOD, lines=(replace(MIXED[1], unit_price_cents=-5),)), "negative unit price"),
    (replace(GOOD, lines=(replace(MIXED[1], discount_cents=536),)), "discount (536 cents) larger than the line"),
    (replace(GOOD, lines=(replace(MIXED[1], description=" "),)), "no description"),
    (replace(GOOD, money_off_cents=600), "money_off_cents 600"),
    (replace(GOOD, payments=()), "payments are empty"),
    (replace(GOOD, payments=(FiscalPayment("cash", 500),)), "not the total 535"),
    (replace(GOOD, payments=(FiscalPayment("cash", 0),)), "more than zero"),
    (replace(GOOD, payments=(FiscalPayment("card", 535, code="12"),)), "iFormaPago"),
    (replace(GOOD, number=0), "number 0"),
    (replace(GOOD, security_code="12345"), "security_code"),
    (replace(GOOD, security_code="000000000"), "security_code"),
    (replace(GOOD, issued_at=datetime(2024, 3, 20, 10, 15)), "issued_at has no time zone"),
    (replace(GOOD, emission="contingency"), "contingency_started_at is missing"),
    (replace(GOOD, emission="contingency", contingency_started_at=AT - timedelta(hours=1),
             contingency_reason="caído"), "contingency_reason must have 15"),
    (replace(GOOD, emission="contingency", contingency_started_at=AT + timedelta(hours=1),
             contingency_reason="Sin conexión con el PAC"), "after the document's issue time"),
    (replace(GOOD, contingency_reason="Sin conexión con el PAC"), "emission is normal"),
    (replace(GOOD, reference_cufe=INVOICE_CUFE), "only a credit note refers"),
    (replace(GOOD, kind="credit_note", reference_cufe=INVOICE_CUFE[:-1] + "1", reference_issued_at=AT),
     "not a valid CUFE"),
    (replace(GOOD, kind="credit_note", reference_cufe=INVOICE_CUFE), "reference_issued_at is missing"),
    (replace(GOOD, kind="credit_note", reference_cufe=INVOICE_CUFE, reference_issued_at=AT,
             lines=(replace(MIXED[1], qty=-1), MIXED[1])), "mix returned and sold"),
])
def test_impossible_documents_name_the_field(doc, fragment):
    with pytest.raises(InputError, match="Electronic invoice") as caught:
        build_xml(doc, ISSUER)
    assert fragment in str(caught.value)


@pytest.mark.parametrize("issuer,fragment", [
    (replace(ISSUER, dv="58"), "issuer RUC/DV"),
    (replace(ISSUER, ruc="not a ruc"), "issuer RUC/DV"),
    (replace(ISSUER, ruc_type=3), "issuer ruc_type"),
    (replace(ISSUER, point=0), "issuer point"),
    (replace(ISSUER, point=1000), "issuer point"),
    (replace(ISSUER, branch="00001"), "issuer branch"),
    (replace(ISSUER, environment=3), "issuer environment"),
    (replace(ISSUER, name=""), "issuer name"),
    (replace(ISSUER, address=" "), "issuer address"),
])
def test_a_bad_issuer_is_named(issuer, fragment):
    with pytest.raises(InputError, match=fragment):
        build_xml(GOOD, issuer)
    with pytest.raises(InputError, match=fragment):
        cufe(GOOD, issuer)


@pytest.mark.parametrize("receiver,fragment", [
    (Receiver(ruc="8-274-125", dv="19", ruc_type=1, name="Juan Pérez"), "receiver RUC/DV"),
    (Receiver(ruc="8-274-125", dv="91", ruc_type=0, name="Juan Pérez"), "receiver ruc_type"),
    (Receiver(ruc="8-274-125", dv="91", ruc_type=1, name=""), "receiver name"),
])
def test_a_bad_receiver_is_named(receiver, fragment):
    with pytest.raises(InputError, match=fragment):
        build_xml(replace(GOOD, receiver=receiver), ISSUER)


# --- the property: totals reconcile for any lines ------------------------------------------------------------

RATES = [0, 700, 1000, 1500]


@st.composite
def fiscal_lines(draw: st.DrawFn) -> FiscalLine:
    qty = draw(st.integers(1, 50))
    price = draw(st.integers(0, 200_000))
    rate = draw(st.sampled_from(RATES))
    included = draw(st.booleans())
    gross = PricedLine(qty, price, rate, included)
    discount = draw(st.integers(0, line_amounts(gross).gross_cents))
    return FiscalLine("Producto", "P", qty, price, discount, rate, included)


@settings(max_examples=200, deadline=None)
@given(st.lists(fiscal_lines(), min_size=1, max_size=12), st.data())
def test_totals_reconcile_with_the_receipt(lines, data):
    priced = [PricedLine(line.qty, line.unit_price_cents, line.tax_rate_bp, line.tax_included,
                         discount_cents=line.discount_cents) for line in lines]
    before = note_totals(priced).total_cents
    money_off = data.draw(st.integers(0, before))
    receipt = note_totals(priced, redeemed_cents=money_off)
    doc = FiscalDocument(kind="invoice", number=7, issued_at=AT, security_code="555555555", lines=tuple(lines),
                         payments=(FiscalPayment("cash", receipt.total_cents + 1),), change_cents=1,
                         money_off_cents=money_off)
    root = parse(build_xml(doc, ISSUER))
    net, tax, total = (cents(text(root, f"d:gTot/d:{name}")) for name in ("dTotNeto", "dTotITBMS", "dVTot"))
    assert net + tax == total == receipt.total_cents
    assert cents(text(root, "d:gTot/d:dVTotItems")) == total
    per_rate = {"00": 0, "01": 700, "02": 1000, "03": 1500}
    by_rate: dict[int, list[tuple[int, int]]] = {}
    for item in items(root):
        by_rate.setdefault(per_rate[text(item, "d:gITBMSItem/d:dTasaITBMS")], []).append(
            (cents(text(item, "d:gPrecios/d:dValTotItem")), cents(text(item, "d:gITBMSItem/d:dValITBMS"))))
    for row in receipt.taxes:
        # each rate's amount is the receipt's (the money-off spread the same way); its tax, rounded per line
        # instead of once per rate, is within half a cent per line of the receipt's
        amounts = by_rate.get(row.rate_bp, [])
        assert sum(a for a, _ in amounts) == row.total_cents
        assert abs(sum(t for _, t in amounts) - row.tax_cents) * 2 <= max(1, len(amounts)) + 1
    for item in items(root):
        qty = int(text(item, "d:dCantCodInt").split(".")[0])
        pr_item, val_itbms = cents(text(item, "d:gPrecios/d:dPrItem")), cents(text(item, "d:gITBMSItem/d:dValITBMS"))
        assert pr_item + val_itbms == cents(text(item, "d:gPrecios/d:dValTotItem"))
        rate = per_rate[text(item, "d:gITBMSItem/d:dTasaITBMS")]
        # dValITBMS is dPrItem x rate to within the cent the DGI tolerates
        assert abs(val_itbms * 10_000 - pr_item * rate) <= 10_000
        unit = micros(text(item, "d:gPrecios/d:dPrUnit"))
        desc_text = item.findtext("d:gPrecios/d:dPrUnitDesc", None, NS)
        desc = micros(desc_text) if desc_text is not None else 0
        assert 0 <= desc <= unit
        # dPrItem = qty x (dPrUnit - dPrUnitDesc), to within qty half-millionths
        assert abs(qty * (unit - desc) - pr_item * 10_000) * 2 <= qty


def test_a_name_of_control_characters_only_is_no_description():
    """The e-invoice review: a product named "\\x01\\x02" went out with an empty dDescProd."""
    doc = FiscalDocument(kind="invoice", number=1, issued_at=datetime(2026, 12, 7, 10, tzinfo=UTC),
                         security_code="000000001", lines=(FiscalLine("\x01\x02", "X", 1, 100, tax_rate_bp=700),),
                         payments=(FiscalPayment("cash", 100),))
    with pytest.raises(InputError, match="no description"):
        build_xml(doc, ISSUER)

"""The catalogue: find a product by code, search as you type, import CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import datetime as _dt

from peewee import JOIN, SQL, fn

from tui_pos.models.prepared import fetch_rows, prepared

from tui_pos.domain.codes import normalize_barcode, scanned_forms
from tui_pos.domain.errors import InputError, PosError
from tui_pos.domain.text import search_key, control_at
from tui_pos.models import Barcode, Product, Section, db
from tui_pos.services import audit

PRODUCT_COLUMNS = ["barcode", "sku", "name", "section", "price", "tax_rate", "points", "points_cost"]


@dataclass(frozen=True)
class ProductView:
    """A product as the register needs it."""

    id: int
    sku: str
    name: str
    price_cents: int
    tax_rate_bp: int
    tax_included: bool
    section: str = ""
    barcode: str = ""


def _view(p: Product, section: str = "", barcode: str = "") -> ProductView:
    return ProductView(p.id, p.sku, p.name, p.price_cents, p.tax_rate_bp, p.tax_included,
                       section, barcode)


def find_by_code(code: str, note_id: int | None = None) -> Product | None:
    """An active product by barcode, else by SKU (case-insensitive).

    A UPC-A scanned as 12 digits is the same item as its EAN-13 with a leading
    0, and a UPC-E is found by its expanded UPC-A (`scanned_forms`). The
    product comes with today's specific price (`specific_cents`) and, given a
    note, the line of that note a scan of it adds to (`same_line`: (id, qty) or None).
    """
    return read_find(send_find(code, note_id))


def send_find(code: str, note_id: int | None = None) -> tuple:
    """`find_by_code` sent (in a batch, with the statements beside it); `read_find` reads it."""
    code = code.strip()
    forms = scanned_forms(code)
    forms = (forms + [forms[-1]] * 3)[:3]   # the statement takes three forms (scanned_forms gives one to three)
    # one query: the exact barcode wins, then the SKU, then the other forms of the code
    return code, _q_find.send(*forms, code.upper(), _dt.date.today(), note_id or 0)


def read_find(sent: tuple) -> Product | None:
    code, cursor = sent
    best, rank = None, 4
    for row in fetch_rows(cursor):
        values = dict(zip(_PRODUCT_COLUMNS, row))
        r = 1 if values["hit_code"] == code else 2 if values["sku"] == code.upper() else 3
        if r < rank:
            del values["hit_code"]
            specific = values.pop("specific_cents")
            same = (values.pop("same_id"), values.pop("same_qty"))
            values["tax_included"] = bool(values["tax_included"])
            values["active"] = bool(values["active"])
            best, rank = Product(**values), r
            best._dirty.clear()
            best.specific_cents = specific   # today's specific price, read with it (None: none)
            best.same_line = same if same[0] is not None else None
    return best


_PRODUCT_COLUMNS = ("id", "sku", "name", "section_id", "price_cents", "tax_rate_bp", "tax_included", "points",
                    "points_cost", "active", "hit_code", "specific_cents", "same_id", "same_qty")


def _same_line(note, product_column, column):
    """The note's line that another scan of the product raises (not re-priced or re-discounted by hand)."""
    from tui_pos.models import NoteLine
    newest = (NoteLine.select(fn.MAX(NoteLine.id))
              .where(NoteLine.note == note, NoteLine.product == product_column,
                     NoteLine.price_source.not_in(("manual", "weighed")), NoteLine.discount_source != "manual"))
    alias = NoteLine.alias()
    return alias.select(getattr(alias, column)).where(alias.id == newest)


@prepared(6)
def _q_find(form1, form2, form3, sku, today, note):
    """Products by barcode (any of three forms) and by SKU: two index lookups in one statement, whatever
    the size of the catalogue (one join with an OR across both tables read every product)."""
    from tui_pos.services.sales import specific_price_of

    def columns(hit_code):
        return (Product.id, Product.sku, Product.name, Product.section, Product.price_cents, Product.tax_rate_bp,
                Product.tax_included, Product.points, Product.points_cost, Product.active, hit_code,
                specific_price_of(Product.id, today), _same_line(note, Product.id, "id"),
                _same_line(note, Product.id, "qty"))
    by_barcode = (Product.select(*columns(Barcode.code)).join(Barcode, on=(Barcode.product == Product.id))
                  .where(Barcode.code.in_([form1, form2, form3]), Product.active == True))  # noqa: E712
    by_sku = Product.select(*columns(SQL("NULL"))).where(Product.sku == sku, Product.active == True)  # noqa: E712
    return (by_barcode + by_sku).order_by(SQL("1"))   # UNION ALL, by product id


def search(text: str, limit: int = 50) -> list[ProductView]:
    """Products whose name words, SKU or barcode start with what was typed."""
    key = search_key(text)
    if not key:
        return []
    query = (Product.select(Product, Section.name.alias("section_name"))
             .join(Section, JOIN.LEFT_OUTER, on=(Product.section == Section.id))
             .where(Product.active == True))  # noqa: E712
    for word in key.split():
        query = query.where((Product.search_text.startswith(word))
                            | (Product.search_text.contains(" " + word)))
    by_name = list(query.order_by(Product.name).limit(limit))
    results = [_view(p, getattr(p, "section_name", "") or "") for p in by_name]
    if len(results) < limit and key.replace(" ", "").isalnum():
        seen = {r.id for r in results}
        by_code = (Product.select().join(Barcode).where(Barcode.code.startswith(text.strip()),
                                                        Product.active == True)  # noqa: E712
                   .limit(limit - len(results)))
        results += [_view(p) for p in by_code if p.id not in seen]
    return results


# ---------------------------------------------------------------- import

class ImportError_(PosError):
    """An import problem at a file, line and column; nothing was written."""

    def __init__(self, path: str, line: int, column: int | None, column_name: str, message: str) -> None:
        where = f"{path}:{line}" + (f":{column} ({column_name})" if column else "")
        super().__init__(f"{where}: {message}")


@dataclass
class _ProductRow:
    line: int
    barcodes: list[str]
    sku: str
    name: str
    section: str
    price_cents: int
    tax_rate_bp: int
    points: int | None
    points_cost: int | None


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number; expected {what}") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number; expected {what}")
    return value


def _parse_product_row(row: dict[str, str], line: int, path: str) -> _ProductRow:
    def fail(col: str, msg: str) -> ImportError_:
        return ImportError_(path, line, PRODUCT_COLUMNS.index(col) + 1, col, msg)

    values = {k: (row.get(k) or "").strip() for k in PRODUCT_COLUMNS}
    for col in PRODUCT_COLUMNS:
        at = control_at(values[col])
        if at is not None:   # ESC p in a name is the cash drawer's pulse, ESC [ 2 J clears the register's screen
            raise fail(col, f"a control character (code {ord(values[col][at - 1])}) at character {at}: "
                            "the file must hold plain text")
    barcodes = []
    for code in values["barcode"].replace("|", " ").split():
        try:
            barcodes.append(normalize_barcode(code))
        except InputError as exc:
            raise fail("barcode", str(exc)) from None
    sku = values["sku"].upper() or (barcodes[0] if barcodes else "")
    if not sku:
        raise fail("sku", "a product needs a SKU or a barcode")
    if not values["name"]:
        raise fail("name", "a product needs a name")
    try:
        price = _decimal(values["price"], "a price such as 2.50")
    except ValueError as exc:
        raise fail("price", str(exc)) from None
    if price < 0:
        raise fail("price", f"price {values['price']} is negative; expected 0 or more")
    if price != price.quantize(Decimal("0.01")):
        raise fail("price", f"price {values['price']} has more than 2 decimals")
    try:
        rate = _decimal(values["tax_rate"] or "0", "a tax rate in percent such as 7")
    except ValueError as exc:
        raise fail("tax_rate", str(exc)) from None
    if not 0 <= rate <= 100 or rate != rate.quantize(Decimal("0.01")):
        raise fail("tax_rate", f"tax rate {values['tax_rate']} must be a percent from 0 to 100 with at most 2 decimals")
    ints: dict[str, int | None] = {}
    for col in ("points", "points_cost"):
        if values[col] == "":
            ints[col] = None
        elif values[col].isdigit():
            ints[col] = int(values[col])
        else:
            raise fail(col, f"{values[col]!r} is not a whole number of points; expected empty or 0, 1, 2...")
    if ints["points_cost"] == 0:
        raise fail("points_cost", "points_cost 0 would give the product away; leave it empty or give a cost")
    return _ProductRow(line, barcodes, sku, values["name"], values["section"],
                       int(price * 100), int(rate * 100), ints["points"], ints["points_cost"])


def read_products_csv(path: str | Path) -> list[_ProductRow]:
    """Parse and check the whole file; raise ImportError_ at the first problem."""
    path = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ImportError_(path, 0, None, "", f"cannot open the file ({exc.strerror or exc})") from None
    rows: list[_ProductRow] = []
    seen_sku: dict[str, int] = {}
    seen_code: dict[str, int] = {}
    with handle:
        try:
            reader = csv.DictReader(handle, strict=True)
            header = reader.fieldnames or []
            missing = [c for c in PRODUCT_COLUMNS if c not in header]
            if missing:
                raise ImportError_(path, 1, None, "", "missing column(s) " + ", ".join(missing)
                                   + "; expected header " + ",".join(PRODUCT_COLUMNS))
            for row in reader:
                line = reader.line_num
                if None in row:
                    raise ImportError_(path, line, len(header) + 1, "", "more fields than the header has")
                if any(v is None for v in row.values()):
                    short = next(i for i, k in enumerate(header) if row.get(k) is None)
                    raise ImportError_(path, line, short + 1, header[short], "fewer fields than the header has")
                if not any((v or "").strip() for v in row.values()):
                    continue
                parsed = _parse_product_row(row, line, path)
                if parsed.sku in seen_sku:
                    raise ImportError_(path, line, 2, "sku", f"SKU {parsed.sku} is also on line {seen_sku[parsed.sku]}")
                seen_sku[parsed.sku] = line
                for code in parsed.barcodes:
                    if code in seen_code:
                        raise ImportError_(path, line, 1, "barcode", f"barcode {code} is also on line {seen_code[code]}")
                    seen_code[code] = line
                rows.append(parsed)
        except csv.Error as exc:
            raise ImportError_(path, reader.line_num, None, "", f"malformed CSV ({exc})") from None
        except UnicodeDecodeError:
            raise ImportError_(path, 0, None, "", "the file is not UTF-8 text") from None
    return rows


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def import_products(path: str | Path, *, user_id: int | None = None) -> ImportResult:
    """All-or-nothing: every row checked first, then written in one transaction.

    Rows are matched on SKU; importing the same file twice changes nothing.
    """
    rows = read_products_csv(path)
    created = updated = unchanged = 0
    with db.atomic():
        sections = {s.name: s.id for s in Section.select()}
        for r in rows:
            section_id = None
            if r.section:
                if r.section not in sections:
                    sections[r.section] = Section.create(name=r.section).id
                section_id = sections[r.section]
            fields = dict(name=r.name, section=section_id, price_cents=r.price_cents,
                          tax_rate_bp=r.tax_rate_bp, points=r.points, points_cost=r.points_cost,
                          active=True, search_text=search_key(f"{r.name} {r.sku}"))
            product = Product.get_or_none(Product.sku == r.sku)
            if product is None:
                product = Product.create(sku=r.sku, **fields)
                created += 1
            else:
                current = {k: getattr(product, k + "_id" if k == "section" else k) for k in fields}
                if current != fields:
                    Product.update(**fields).where(Product.id == product.id).execute()
                    updated += 1
                else:
                    unchanged += 1
            for code in r.barcodes:
                owner = Barcode.get_or_none(Barcode.code == code)
                if owner is None:
                    Barcode.create(code=code, product=product.id)
                elif owner.product_id != product.id:
                    raise ImportError_(str(path), r.line, 1, "barcode",
                                       f"barcode {code} already belongs to another product")
        audit.record("import.products", user_id=user_id, file=str(path), created=created,
                     updated=updated, unchanged=unchanged)
    return ImportResult(created, updated, unchanged)

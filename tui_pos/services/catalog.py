"""The catalogue: find a product by code, search as you type, import CSV."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from peewee import JOIN

from tui_pos.domain import imports as cell_rules
from tui_pos.domain.codes import normalize_barcode
from tui_pos.domain.errors import InputError, PosError
from tui_pos.domain.text import search_key
from tui_pos.models import Barcode, Product, Section, db
from tui_pos.services import audit
from tui_pos.services.store import catalog as store
from tui_pos.services.store.catalog import FoundProduct

_T = TypeVar("_T")

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


def find_by_code(code: str, note_id: int | None = None) -> FoundProduct | None:
    """An active product by barcode, else by SKU (the catalogue store's `find_by_code`)."""
    return store.find_by_code(code, note_id)


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

class ImportError_(PosError):  # noqa: N801 - the trailing "_" keeps it off the builtin ImportError
    """An import problem at a file, line and column; nothing was written."""

    def __init__(self, path: str, line: int, column: int | None, column_name: str, message: str) -> None:
        named = f" ({column_name})" if column_name else ""
        where = f"{path}:{line}" + (f":{column}{named}" if column else "")
        # the form's sentences end in ".": "; nothing was written" follows
        if message.endswith(".") and not message.endswith(".."):
            message = message[:-1]
        super().__init__(f"{where}: {message}")


@dataclass
class _ProductRow:
    line: int
    barcodes: list[str]
    sku: str
    name: str
    section: str               # "": none for a new product; an existing one keeps its section
    price_cents: int
    tax_rate_bp: int | None    # None (empty cell): 0 for a new product; an existing one keeps its rate
    points: int | None
    points_cost: int | None


def _optional_points(text: str, what: str) -> int | None:
    return cell_rules.points(text, what) if text else None


def _parse_product_row(row: dict[str, str], line: int, path: str, allow_large: bool = False) -> _ProductRow:
    """One row, checked by the rules of domain/imports.py; ImportError_ names its line and column."""
    def fail(col: str, msg: str) -> ImportError_:
        return ImportError_(path, line, PRODUCT_COLUMNS.index(col) + 1, col, msg)

    def cell(col: str, parse: Callable[[str], _T]) -> _T:
        try:
            return parse(values[col])
        except InputError as exc:
            raise fail(col, str(exc)) from None

    values = {k: (row.get(k) or "").strip() for k in PRODUCT_COLUMNS}
    for col in PRODUCT_COLUMNS:
        limit = cell_rules.MAX_CODE if col == "sku" else cell_rules.MAX_TEXT
        cell(col, partial(cell_rules.check_text, limit=limit))
    barcodes: list[str] = []
    for code in values["barcode"].replace("|", " ").split():
        try:
            cell_rules.check_text(code, cell_rules.MAX_CODE)
            barcodes.append(normalize_barcode(code))
        except InputError as exc:
            raise fail("barcode", str(exc)) from None
    sku = values["sku"].upper() or (barcodes[0] if barcodes else "")
    if not sku:
        raise fail("sku", "a product needs a SKU or a barcode")
    if not values["name"]:
        raise fail("name", "a product needs a name")
    price = cell("price", lambda v: cell_rules.price_cents(v, allow_large=allow_large))
    rate = cell("tax_rate", lambda v: cell_rules.tax_rate_bp(v) if v else None)
    ints = {col: cell(col, partial(_optional_points, what=col)) for col in ("points", "points_cost")}
    if ints["points_cost"] == 0:
        raise fail("points_cost", "points_cost 0 would give the product away; leave it empty or give a cost")
    return _ProductRow(line, barcodes, sku, values["name"], values["section"],
                       price, rate, ints["points"], ints["points_cost"])


def encoding_error(path: str) -> ImportError_:
    """The refusal of a file that is not UTF-8 text, naming where its first bad byte is."""
    try:
        with open(path, "rb") as handle:
            found = cell_rules.not_utf8(handle.read())
    except OSError as exc:
        return ImportError_(path, 0, None, "", f"cannot read the file ({exc.strerror or exc})")
    if found is None:   # a file changed while it was read
        return ImportError_(path, 0, None, "", "the file is not UTF-8 text")
    line, column, name, message = found
    return ImportError_(path, line, column, name, message)


def read_products_csv(path: str | Path, *, allow_large: bool = False) -> list[_ProductRow]:
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
                raise ImportError_(path, 1, None, "",
                                   cell_rules.missing_columns(list(header), missing, PRODUCT_COLUMNS))
            for row in reader:
                line = reader.line_num
                if None in row:
                    raise ImportError_(path, line, len(header) + 1, "", "more fields than the header has")
                if any(v is None for v in row.values()):
                    short = next(i for i, k in enumerate(header) if row.get(k) is None)
                    raise ImportError_(path, line, short + 1, header[short], "fewer fields than the header has")
                if not any((v or "").strip() for v in row.values()):
                    continue
                parsed = _parse_product_row(row, line, path, allow_large)
                if parsed.sku in seen_sku:
                    raise ImportError_(path, line, 2, "sku", f"SKU {parsed.sku} is also on line {seen_sku[parsed.sku]}")
                seen_sku[parsed.sku] = line
                for code in parsed.barcodes:
                    if code in seen_code:
                        raise ImportError_(path, line, 1, "barcode",
                                           f"barcode {code} is also on line {seen_code[code]}")
                    seen_code[code] = line
                rows.append(parsed)
        except csv.Error as exc:
            raise ImportError_(path, reader.line_num, None, "", f"malformed CSV ({exc})") from None
        except UnicodeDecodeError:
            raise encoding_error(path) from None
    return rows


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def import_products(path: str | Path, *, user_id: int | None = None, update: bool = False,
                    allow_large: bool = False) -> ImportResult:
    """All-or-nothing: every row checked first, then written in one transaction.

    Rows are matched on SKU; importing the same file twice changes nothing. A row of an existing SKU
    updates it, but an empty `section` or `tax_rate` keeps what the product has. A barcode of another
    product is refused, naming it, unless `update` says to move it to the row's SKU. `allow_large`
    takes prices up to 9,999,999.99 (domain/money.py).
    """
    rows = read_products_csv(path, allow_large=allow_large)
    created = updated = unchanged = 0
    updated_skus: list[str] = []
    moved: list[str] = []
    with db.atomic():
        sections = {s.name: s.id for s in Section.select()}
        for r in rows:
            product = Product.get_or_none(Product.sku == r.sku)
            section_id = product.section_id if product is not None else None
            if r.section:
                if r.section not in sections:
                    sections[r.section] = Section.create(name=r.section).id
                section_id = sections[r.section]
            rate = r.tax_rate_bp if r.tax_rate_bp is not None else (product.tax_rate_bp if product else 0)
            fields = {"name": r.name, "section": section_id, "price_cents": r.price_cents,
                      "tax_rate_bp": rate, "points": r.points, "points_cost": r.points_cost,
                      "active": True, "search_text": search_key(f"{r.name} {r.sku}")}
            if product is None:
                product = Product.create(sku=r.sku, **fields)
                created += 1
            else:
                current = {k: getattr(product, k + "_id" if k == "section" else k) for k in fields}
                if current != fields:
                    Product.update(**fields).where(Product.id == product.id).execute()
                    updated += 1
                    updated_skus.append(r.sku)
                else:
                    unchanged += 1
            for code in r.barcodes:
                owner = (Barcode.select(Barcode.id, Product.id.alias("product_id"), Product.sku, Product.name)
                         .join(Product).where(Barcode.code == code).dicts().first())
                if owner is None:
                    Barcode.create(code=code, product=product.id)
                elif owner["product_id"] != product.id:
                    if not update:
                        raise ImportError_(str(path), r.line, 1, "barcode",
                                           f"barcode {code} belongs to product {owner['sku']} ({owner['name']}); "
                                           f"--update moves it to {r.sku}")
                    Barcode.update(product=product.id).where(Barcode.id == owner["id"]).execute()
                    moved.append(f"{code}: {owner['sku']} -> {r.sku}")
        audit.record("import.products", user_id=user_id, file=str(path), created=created,
                     updated=updated, unchanged=unchanged, updated_skus=cell_rules.listed(updated_skus),
                     moved_barcodes=cell_rules.listed(moved), update=update, allow_large=allow_large)
    return ImportResult(created, updated, unchanged)

"""The catalogue store: a product found by a scanned code, with what a sale needs of it."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from peewee import SQL, fn

from tui_pos.domain.codes import scanned_forms
from tui_pos.models import Barcode, NoteLine, Product, StorePrice
from tui_pos.models.prepared import prepared
from tui_pos.services.prices import specific_price_of


@dataclass(frozen=True)
class FoundProduct:
    """An active product as a scan finds it, with today's specific price and the note's line it adds to."""

    id: int
    sku: str
    name: str
    section_id: int | None
    price_cents: int
    tax_rate_bp: int
    tax_included: bool
    points: int | None
    points_cost: int | None
    active: bool
    specific_cents: int | None          # today's specific price (None: none)
    same_line: tuple[int, int] | None   # (line id, qty) a scan of it raises, or None


def find_by_code(code: str, note_id: int | None = None, store_id: int = 0) -> FoundProduct | None:
    """An active product by barcode, else by SKU (case-insensitive).

    A UPC-A scanned as 12 digits is the same item as its EAN-13 with a leading
    0, and a UPC-E is found by its expanded UPC-A (`scanned_forms`). The
    product comes with today's specific price (`specific_cents`) and, given a
    note, the line of that note a scan of it adds to (`same_line`: (id, qty) or None). `store_id`: the
    register's store, whose own price of the product (`store_price`) is its retail price there.
    """
    code = code.strip()
    forms = scanned_forms(code)
    forms = (forms + [forms[-1]] * 3)[:3]   # the statement takes three forms (scanned_forms gives one to three)
    # one query: the exact barcode wins, then the SKU, then the other forms of the code
    rows = _q_find.rows(*forms, code.upper(), _dt.date.today(), note_id or 0, store_id)
    best, rank = None, 4
    for row in rows:
        values = dict(zip(_PRODUCT_COLUMNS, row))
        r = 1 if values["hit_code"] == code else 2 if values["sku"] == code.upper() else 3
        if r < rank:
            del values["hit_code"]
            same = (values.pop("same_id"), values.pop("same_qty"))
            values["tax_included"] = bool(values["tax_included"])
            values["active"] = bool(values["active"])
            best, rank = FoundProduct(**values, same_line=same if same[0] is not None else None), r
    return best


_PRODUCT_COLUMNS = ("id", "sku", "name", "section_id", "price_cents", "tax_rate_bp", "tax_included", "points",
                    "points_cost", "active", "hit_code", "specific_cents", "same_id", "same_qty")


def _same_line(note: Any, product_column: Any, column: str) -> Any:
    """The note's line that another scan of the product raises (not re-priced or re-discounted by hand)."""
    newest = (NoteLine.select(fn.MAX(NoteLine.id))
              .where(NoteLine.note == note, NoteLine.product == product_column,
                     NoteLine.price_source.not_in(("manual", "weighed")), NoteLine.discount_source != "manual"))
    alias = NoteLine.alias()
    return alias.select(getattr(alias, column)).where(alias.id == newest)


@prepared(7)
def _q_find(form1: Any, form2: Any, form3: Any, sku: Any, today: Any, note: Any, store: Any) -> Any:
    """Products by barcode (any of three forms) and by SKU: two index lookups in one statement, whatever
    the size of the catalogue (one join with an OR across both tables read every product)."""

    def columns(hit_code: Any) -> tuple[Any, ...]:
        in_store = StorePrice.select(StorePrice.price_cents).where(StorePrice.product == Product.id,
                                                                   StorePrice.point_of_sale == store)
        return (Product.id, Product.sku, Product.name, Product.section, fn.COALESCE(in_store, Product.price_cents),
                Product.tax_rate_bp,
                Product.tax_included, Product.points, Product.points_cost, Product.active, hit_code,
                specific_price_of(Product.id, today), _same_line(note, Product.id, "id"),
                _same_line(note, Product.id, "qty"))
    by_barcode = (Product.select(*columns(Barcode.code)).join(Barcode, on=(Barcode.product == Product.id))
                  .where(Barcode.code.in_([form1, form2, form3]), Product.active == True))  # noqa: E712
    by_sku = Product.select(*columns(SQL("NULL"))).where(Product.sku == sku, Product.active == True)  # noqa: E712
    return (by_barcode + by_sku).order_by(SQL("1"))   # UNION ALL, by product id

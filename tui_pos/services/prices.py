"""Price rates and specific prices (seed 003), managed from the command line."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from peewee import ModelSelect, fn

from tui_pos.domain.customer import parse_date
from tui_pos.domain.errors import InputError
from tui_pos.domain.money import parse_money, parse_percent_bp
from tui_pos.models import PointOfSale, PriceRate, PriceRateLine, Product, SpecificPrice, StorePrice, db
from tui_pos.services import audit


def _dates(start: str | None, end: str | None) -> tuple[_dt.date | None, _dt.date | None]:
    s = parse_date(start, "start date") if start else None
    e = parse_date(end, "end date") if end else None
    if s and e and e < s:
        raise InputError("The end date is before the start date.")
    return s, e


def set_rate(code: str, name: str, *, start: str | None = None, end: str | None = None, active: bool = True,
             user_id: int | None = None) -> str:
    code = code.strip().upper()
    if not code or not name.strip():
        raise InputError("A rate needs a code and a name.")
    s, e = _dates(start, end)
    with db.atomic():
        rate, created = PriceRate.get_or_create(code=code, defaults={"name": name.strip(), "start_date": s,
                                                                         "end_date": e, "active": active})
        if not created:
            PriceRate.update(name=name.strip(), start_date=s, end_date=e, active=active).where(
                PriceRate.id == rate.id).execute()
        audit.record("rate.set", user_id=user_id, rate=code, start=str(s), end=str(e), active=active)
    return code


def _rate_and_product(code: str, sku: str) -> tuple[PriceRate, Product]:
    rate = PriceRate.get_or_none(PriceRate.code == code.strip().upper())
    if rate is None:
        raise InputError(f"No rate {code.strip().upper()}: create it with `tui-pos rate add`.")
    product = Product.get_or_none(Product.sku == sku.strip().upper())
    if product is None:
        raise InputError(f"No product with SKU {sku.strip().upper()}.")
    return rate, product


def set_rate_line(code: str, sku: str, price: str, *, user_id: int | None = None) -> str:
    """`2.50` sets the rate's price; `10%` means 10 % off retail (price 0 in the rate line)."""
    rate, product = _rate_and_product(code, sku)
    if price.strip().endswith("%"):
        cents, bp = 0, parse_percent_bp(price, "discount")
        if bp == 0:
            raise InputError(f"0% off is the retail price: the rate would change nothing. To take {product.sku} "
                             f"out of rate {rate.code}: tui-pos rate remove {rate.code} {product.sku}")
    else:
        cents, bp = parse_money(price, "price"), 0
        if cents == 0:
            raise InputError("A rate price of 0 means a discount: write it as a percentage, like 10%.")
    with db.atomic():
        PriceRateLine.delete().where(PriceRateLine.rate == rate.id, PriceRateLine.product == product.id).execute()
        PriceRateLine.create(rate=rate.id, product=product.id, price_cents=cents, discount_bp=bp)
        audit.record("rate.line", user_id=user_id, rate=rate.code, sku=product.sku, price_cents=cents, discount_bp=bp)
    return f"rate {rate.code}: {product.sku} " + (f"{bp / 100:g}% off retail" if bp else f"at {cents / 100:.2f}")


def add_specific_price(sku: str, price: str, *, start: str | None = None, end: str | None = None,
                       user_id: int | None = None) -> str:
    product = Product.get_or_none(Product.sku == sku.strip().upper())
    if product is None:
        raise InputError(f"No product with SKU {sku.strip().upper()}.")
    cents = parse_money(price, "price")
    s, e = _dates(start, end)
    with db.atomic():
        SpecificPrice.create(product=product.id, price_cents=cents, start_date=s, end_date=e)
        audit.record("price.specific", user_id=user_id, sku=product.sku, price_cents=cents, start=str(s), end=str(e))
    return f"{product.sku} at {cents / 100:.2f} from {s or 'now'} to {e or 'further notice'}"


def set_store_price(sku: str, store: str, price: str | None, *, user_id: int | None = None) -> str:
    """A product's price in one store of the chain (None: the store sells it at retail again); audited."""
    product = Product.get_or_none(Product.sku == sku.strip().upper())
    if product is None:
        raise InputError(f"No product with SKU {sku.strip().upper()}.")
    pos = PointOfSale.get_or_none(PointOfSale.code == store.strip())
    if pos is None:
        known = ", ".join(p.code for p in PointOfSale.select().order_by(PointOfSale.code)) or "none yet"
        raise InputError(f"No store {store.strip()!r} (stores: {known}): a store is made by its first register.")
    cents = parse_money(price, "price") if price is not None else None
    with db.atomic():
        StorePrice.delete().where(StorePrice.product == product.id, StorePrice.point_of_sale == pos.id).execute()
        if cents is not None:
            StorePrice.create(product=product.id, point_of_sale=pos.id, price_cents=cents)
        audit.record("price.store", user_id=user_id, sku=product.sku, store=pos.code, price_cents=cents)
    if cents is None:
        return f"{product.sku} in store {pos.code}: at retail ({product.price_cents / 100:.2f}) again"
    return f"{product.sku} in store {pos.code} at {cents / 100:.2f} (retail {product.price_cents / 100:.2f})"


@dataclass(frozen=True)
class StorePriceRow:
    store: str
    sku: str
    name: str
    price_cents: int
    retail_cents: int


def store_prices(store: str | None = None) -> list[StorePriceRow]:
    query = (StorePrice.select(PointOfSale.code, Product.sku, Product.name, StorePrice.price_cents,
                               Product.price_cents).join(Product).switch(StorePrice).join(PointOfSale)
             .order_by(PointOfSale.code, Product.sku))
    if store:
        query = query.where(PointOfSale.code == store)
    return [StorePriceRow(*row) for row in query.tuples()]


def remove_rate_line(code: str, sku: str, *, user_id: int | None = None) -> str:
    """A product leaves a rate: it is priced as for anyone again for the rate's customers."""
    rate, product = _rate_and_product(code, sku)
    with db.atomic():
        n = PriceRateLine.delete().where(PriceRateLine.rate == rate.id, PriceRateLine.product == product.id).execute()
        if not n:
            raise InputError(f"Rate {rate.code} does not list {product.sku}.")
        audit.record("rate.line_removed", user_id=user_id, rate=rate.code, sku=product.sku)
    return f"rate {rate.code}: {product.sku} removed (priced as for anyone)"


@dataclass(frozen=True)
class RateRow:
    code: str
    name: str
    start: _dt.date | None
    end: _dt.date | None
    active: bool
    lines: int


@dataclass(frozen=True)
class RateLineRow:
    sku: str
    name: str
    retail_cents: int
    price_cents: int      # the rate's price; 0 with a discount
    discount_bp: int

    @property
    def text(self) -> str:
        return f"{self.discount_bp / 100:g}% off retail" if self.discount_bp else f"{self.price_cents / 100:.2f}"


def rates() -> list[RateRow]:
    from peewee import JOIN
    q = (PriceRate.select(PriceRate, fn.COUNT(PriceRateLine.id).alias("n"))
         .join(PriceRateLine, JOIN.LEFT_OUTER).group_by(PriceRate.id).order_by(PriceRate.code))
    return [RateRow(r.code, r.name, r.start_date, r.end_date, r.active, r.n) for r in q]


def rate_lines(code: str) -> tuple[RateRow, list[RateLineRow]]:
    rate = next((r for r in rates() if r.code == code.strip().upper()), None)
    if rate is None:
        raise InputError(f"No rate {code.strip().upper()}.")
    q = (PriceRateLine.select(PriceRateLine, Product.sku, Product.name, Product.price_cents)
         .join(Product).join_from(PriceRateLine, PriceRate).where(PriceRate.code == rate.code).order_by(Product.sku))
    return rate, [RateLineRow(ln.product.sku, ln.product.name, ln.product.price_cents, ln.price_cents, ln.discount_bp)
                  for ln in q]


def specific_price_of(product_column: Any, today: _dt.date) -> ModelSelect:
    """Today's lowest specific price of a product, as a subquery column (NULL: none)."""
    return (SpecificPrice.select(fn.MIN(SpecificPrice.price_cents))
            .where(SpecificPrice.product == product_column,
                   (SpecificPrice.start_date.is_null()) | (SpecificPrice.start_date <= today),
                   (SpecificPrice.end_date.is_null()) | (SpecificPrice.end_date >= today)))

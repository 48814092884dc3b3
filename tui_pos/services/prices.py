"""Price rates and specific prices (seed 003), managed from the command line."""

from __future__ import annotations

from tui_pos.domain.customer import parse_date
from tui_pos.domain.errors import InputError
from tui_pos.domain.money import parse_money, parse_percent_bp
from tui_pos.models import PriceRate, PriceRateLine, Product, SpecificPrice, db
from tui_pos.services import audit


def _dates(start: str | None, end: str | None):
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
        rate, created = PriceRate.get_or_create(code=code, defaults=dict(name=name.strip(), start_date=s,
                                                                         end_date=e, active=active))
        if not created:
            PriceRate.update(name=name.strip(), start_date=s, end_date=e, active=active).where(
                PriceRate.id == rate.id).execute()
        audit.record("rate.set", user_id=user_id, rate=code, start=str(s), end=str(e), active=active)
    return code


def set_rate_line(code: str, sku: str, price: str, *, user_id: int | None = None) -> str:
    """`2.50` sets the rate's price; `10%` means 10 % off retail (price 0 in the rate line)."""
    rate = PriceRate.get_or_none(PriceRate.code == code.strip().upper())
    if rate is None:
        raise InputError(f"No rate {code.strip().upper()}: create it with `tui-pos rate add`.")
    product = Product.get_or_none(Product.sku == sku.strip().upper())
    if product is None:
        raise InputError(f"No product with SKU {sku.strip().upper()}.")
    if price.strip().endswith("%"):
        cents, bp = 0, parse_percent_bp(price, "discount")
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

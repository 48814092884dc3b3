"""peewee models of the current schema (the migrations build it), bound to one proxy."""

from __future__ import annotations

import datetime as _dt

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from tui_pos.models.db import db


def utcnow() -> _dt.datetime:
    """Naive UTC now, the one clock every timestamp uses."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


class BaseModel(Model):
    """Every model: bound to the proxy, snake_case table names."""

    class Meta:
        database = db
        legacy_table_names = False


class PointOfSale(BaseModel):
    """A store."""

    code = CharField(unique=True)
    name = CharField()


class Register(BaseModel):
    """A till; `next_seq` is its gapless receipt counter."""

    code = CharField(unique=True)
    point_of_sale = ForeignKeyField(PointOfSale, backref="registers")
    next_seq = IntegerField(default=1)


class User(BaseModel):
    """Someone who signs in with a PIN."""

    name = CharField(unique=True)
    role = CharField()  # cashier | manager | admin
    pin_hash = CharField()
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)


class Section(BaseModel):
    """A product category."""

    name = CharField(unique=True)


class Product(BaseModel):
    """Something sold; price in cents, tax rate in basis points (700 = 7 %)."""

    sku = CharField(unique=True)
    name = CharField()
    section = ForeignKeyField(Section, null=True, backref="products")
    price_cents = IntegerField()
    tax_rate_bp = IntegerField(default=0)
    tax_included = BooleanField(default=True)
    points = IntegerField(null=True)       # None: by the rules; N: per unit; 0: none
    points_cost = IntegerField(null=True)  # None: cannot be offered
    active = BooleanField(default=True)
    search_text = CharField(default="")    # lower-cased, accent-free name + sku


class Barcode(BaseModel):
    """One of a product's barcodes."""

    code = CharField(unique=True)
    product = ForeignKeyField(Product, backref="barcodes", on_delete="CASCADE")


class Note(BaseModel):
    """A ticket being rung up; a receipt once paid."""

    register = ForeignKeyField(Register, backref="notes")
    kind = CharField(default="sale")          # sale | return
    status = CharField(default="open", index=True)  # open | parked | paid | cancelled
    sales_mode = CharField(default="counter")
    cashier = ForeignKeyField(User, null=True)
    label = CharField(default="")             # name given when parked
    opened_at = DateTimeField(default=utcnow)
    closed_at = DateTimeField(null=True)
    seq = IntegerField(null=True)
    receipt_no = CharField(null=True, unique=True)
    total_cents = IntegerField(default=0)     # stored when closed
    return_of = ForeignKeyField("self", null=True, backref="returns")


class NoteLine(BaseModel):
    """One line of a note; a snapshot of the product when it was rung up."""

    note = ForeignKeyField(Note, backref="lines", on_delete="CASCADE")
    product = ForeignKeyField(Product, null=True)
    sku = CharField()
    name = CharField()
    qty = IntegerField()                      # negative on a return
    unit_price_cents = IntegerField()
    list_price_cents = IntegerField()
    tax_rate_bp = IntegerField(default=0)
    tax_included = BooleanField(default=True)
    discount_percent_bp = IntegerField(default=0)
    discount_cents = IntegerField(default=0)
    return_of_line = ForeignKeyField("self", null=True, backref="returned_by")
    created_at = DateTimeField(default=utcnow)


class Payment(BaseModel):
    """A tender taken on a note (negative on a refund)."""

    note = ForeignKeyField(Note, backref="payments", on_delete="CASCADE")
    tender = CharField()
    amount_cents = IntegerField()
    created_at = DateTimeField(default=utcnow)


class AuditLog(BaseModel):
    """Append-only: overrides, cancellations, sign-ins, adjustments."""

    id = AutoField()
    at = DateTimeField(default=utcnow)
    user = ForeignKeyField(User, null=True)
    approved_by = ForeignKeyField(User, null=True)
    register = CharField(default="")
    action = CharField()
    detail = TextField(default="")


ALL_MODELS = [PointOfSale, Register, User, Section, Product, Barcode, Note,
              NoteLine, Payment, AuditLog]

__all__ = [m.__name__ for m in ALL_MODELS] + ["ALL_MODELS", "db", "utcnow"]

"""peewee models of the current schema (the migrations build it), bound to one proxy."""

from __future__ import annotations

import datetime as _dt

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from tui_pos.models.db import db


def utcnow() -> _dt.datetime:
    """Naive UTC now, the one clock every timestamp uses."""
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


def local_time(at: _dt.datetime) -> _dt.datetime:
    """A stored time (naive UTC) as people read it: this machine's local time, naive."""
    return at.replace(tzinfo=_dt.UTC).astimezone().replace(tzinfo=None)


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


class PriceRate(BaseModel):
    """A price list (seed 003): code upper-cased, valid between two dates."""

    code = CharField(unique=True)
    name = CharField()
    start_date = DateField(null=True)
    end_date = DateField(null=True)
    active = BooleanField(default=True)


class PriceRateLine(BaseModel):
    """A product's price in a rate; price 0 means `discount_bp` off retail."""

    rate = ForeignKeyField(PriceRate, backref="lines", on_delete="CASCADE")
    product = ForeignKeyField(Product, on_delete="CASCADE")
    price_cents = IntegerField(default=0)
    discount_bp = IntegerField(default=0)

    class Meta:
        indexes = ((("rate", "product"), True),)


class StorePrice(BaseModel):
    """A product's retail price in one store of the chain (issue 24): the catalog is shared, its prices may
    differ by store; the register's store price stands in for `price_cents` (rates and promotions apply on it)."""

    point_of_sale = ForeignKeyField(PointOfSale, on_delete="CASCADE")
    product = ForeignKeyField(Product, on_delete="CASCADE")
    price_cents = IntegerField()

    class Meta:
        indexes = ((("product", "point_of_sale"), True),)


class SpecificPrice(BaseModel):
    """A time-limited price for everyone (a promotion)."""

    product = ForeignKeyField(Product, backref="specific_prices", on_delete="CASCADE")
    price_cents = IntegerField()
    start_date = DateField(null=True)
    end_date = DateField(null=True)


class CustomerGroup(BaseModel):
    """Employees, Wholesalers, VIP or a custom group, with an automatic discount."""

    name = CharField(unique=True)
    discount_bp = IntegerField(default=0)


class Customer(BaseModel):
    """A buyer. Phones are stored E.164; `*_rev` hold reversed national digits for suffix search."""

    code = CharField(unique=True)
    name = CharField(default="")
    phone = CharField(null=True, unique=True)
    phone_rev = CharField(null=True, index=True)
    mobile = CharField(null=True, index=True)
    mobile_rev = CharField(null=True, index=True)
    email = CharField(null=True, index=True)
    contact = CharField(default="")
    birthday = DateField(null=True)
    fiscal_name = CharField(default="")
    ruc = CharField(null=True, index=True)
    dv = CharField(default="")
    ruc_type = CharField(default="")           # individual | corporate | foreign
    nt_person = CharField(default="")          # natural | juridical, for NT numbers
    price_rate = ForeignKeyField(PriceRate, null=True)
    payment_status = IntegerField(default=0)   # 0 valid, 1 pending payments, 2 defaulter
    status = CharField(default="open")         # open | closed
    sms_consent = BooleanField(default=False)
    email_consent = BooleanField(default=False)
    notes = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    last_visit_at = DateTimeField(null=True)
    points_balance = IntegerField(default=0)   # always the sum of the ledger (tui-pos doctor checks)
    points_earned = IntegerField(default=0, index=True)  # lifetime, for tiers
    points_redeemed = IntegerField(default=0)  # lifetime, spent on money off and offered products (the report)
    visits = IntegerField(default=0)           # paid sales: the second visit sends the profile invitation
    marketing_opt_out = BooleanField(default=False)   # STOP or unsubscribe: no birthday or campaign messages
    invite_declined = BooleanField(default=False)     # said no to the account invitation SMS (counter, STOP)


class CustomerGroupMember(BaseModel):
    customer = ForeignKeyField(Customer, backref="memberships", on_delete="CASCADE")
    group = ForeignKeyField(CustomerGroup, backref="members", on_delete="CASCADE")

    class Meta:
        indexes = ((("customer", "group"), True),)


class LoyaltyCard(BaseModel):
    """A card barcode that identifies a customer at the register."""

    code = CharField(unique=True)
    customer = ForeignKeyField(Customer, backref="cards", on_delete="CASCADE")


class CustomerWord(BaseModel):
    """One accent-free word of a customer's name, for prefix search by index."""

    word = CharField(index=True)
    customer = ForeignKeyField(Customer, backref="words", on_delete="CASCADE")


class LoyaltyMovement(BaseModel):
    """The append-only ledger: a balance is the sum of its movements."""

    at = DateTimeField(default=utcnow, index=True)
    customer = ForeignKeyField(Customer, backref="movements", on_delete="CASCADE")
    kind = CharField()                 # earn | redeem | offer | return | adjust | expire
    points = IntegerField()
    balance_before = IntegerField()
    balance_after = IntegerField()
    counts_as_earned = BooleanField(default=False)
    receipt_no = CharField(null=True, index=True)
    product_sku = CharField(null=True)
    register = CharField(default="")
    user = ForeignKeyField(User, null=True)
    reason = CharField(default="")
    # the document and what the row is for, written once (services/loyalty.py `movement_key`):
    # R1-000007:earn, R1-000009:return:offer:SKU, adjust:<request id>; None for rows of no document
    key = CharField(null=True, unique=True)


class LoyaltyMonth(BaseModel):
    """Points moved per month and kind, kept with every movement: statistics never scan the ledger."""

    month = CharField()                # "2026-11"
    kind = CharField()                 # earn | redeem | offer | return | adjust | expire
    points = IntegerField(default=0)
    movements = IntegerField(default=0)
    shard = CharField(default="")      # the register that wrote it: registers never wait on each other's row

    class Meta:
        indexes = ((("month", "kind", "shard"), True),)


class LoyaltyProgram(BaseModel):
    """The program every register shares: the checked loyalty.toml, as JSON."""

    document = TextField()
    updated_at = DateTimeField(default=utcnow)


class StampCard(BaseModel):
    """A customer's progress on a stamp offer (offers in progress) and the rewards they hold."""

    customer = ForeignKeyField(Customer, backref="stamp_cards", on_delete="CASCADE")
    offer = CharField()
    units = IntegerField(default=0)     # bought towards the next reward
    rewards = IntegerField(default=0)   # reached and not yet used

    class Meta:
        indexes = ((("customer", "offer"), True),)


class StampEvent(BaseModel):
    """Append-only: progress, rewards reached (offers reached), used and returned."""

    at = DateTimeField(default=utcnow)
    customer = ForeignKeyField(Customer, on_delete="CASCADE")
    offer = CharField()
    kind = CharField()                  # progress | reached | used | return
    units = IntegerField(default=0)
    rewards = IntegerField(default=0)
    receipt_no = CharField(null=True)
    key = CharField(null=True, unique=True)   # R1-000007:progress:<offer>: one event per receipt, kind and offer


class PinLock(BaseModel):
    """Wrong PINs in a row at one register's prompts, and until when they are locked (survives a restart)."""

    place = CharField(unique=True)             # the register's code
    failures = IntegerField(default=0)
    locked_until = DateTimeField(null=True)
    last_failure = DateTimeField(null=True)    # the count goes back to 0 a quarter of an hour after it


class DgiCheck(BaseModel):
    """A cached answer of the online RUC check."""

    ruc = CharField(index=True)
    dv = CharField()
    valid = BooleanField()
    registered_name = CharField(default="")
    checked_at = DateTimeField(default=utcnow)


class DayClose(BaseModel):
    """A Z report: closes one register's day. Its notes point at it; the X report reads those that don't."""

    register = CharField(index=True)
    number = IntegerField()                     # 1, 2, ... per register
    closed_at = DateTimeField(default=utcnow)
    user = ForeignKeyField(User, null=True)
    counted_cents = IntegerField(null=True)
    expected_cents = IntegerField(default=0)
    report = TextField(default="{}")            # the report as JSON, to print it again

    class Meta:
        indexes = ((("register", "number"), True),)


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
    customer = ForeignKeyField(Customer, null=True, backref="notes")
    tier_name = CharField(default="")             # the tier held when the customer was attached
    tier_multiplier = CharField(default="1")
    redeem_points = IntegerField(default=0)       # money off with points (F4), debited on completion
    redeem_cents = IntegerField(default=0)
    loyalty_before = IntegerField(null=True)      # the receipt's loyalty block, written on completion
    loyalty_used = IntegerField(null=True)
    loyalty_earned = IntegerField(null=True)
    loyalty_after = IntegerField(null=True)
    day_close = ForeignKeyField(DayClose, null=True, backref="notes")   # the Z that closed it (None: today)
    taken_at = DateTimeField(null=True)           # a web order first resumed by the store: being prepared
    ready_at = DateTimeField(null=True)           # a web order parked again by the store: ready for pick-up
    uid = CharField(null=True, unique=True)       # the register's own id of a sale made offline (issue 24): a
    #                                               replayed journal finds it and never writes the sale twice
    carried_from = IntegerField(null=True)        # the server's note this one went on from when the server went
    #                                               away (its lines carried over): that one is cancelled on sync


class NoteLine(BaseModel):
    """One line of a note; a snapshot of the product when it was rung up."""

    note = ForeignKeyField(Note, backref="lines", on_delete="CASCADE", index=False)   # (note, product) below
    product = ForeignKeyField(Product, null=True, index=False)   # never looked up alone: (note, product)
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
    price_source = CharField(default="retail")  # retail | rate | specific | manual
    offered_qty = IntegerField(default=0)       # units given for points (Offer/Offered): they cost 0
    reward_qty = IntegerField(default=0)        # units given as stamp-offer rewards: they cost 0 too
    reward_offer = CharField(default="")        # the stamp offer those rewards come from
    points_cost = IntegerField(null=True)       # the product's points_cost when rung up
    discount_source = CharField(default="")     # "" | manual | group
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("note", "product"), False),)   # a note's lines, and its earlier line of a product (migration 14)


class Payment(BaseModel):
    """A tender taken on a note (negative on a refund)."""

    note = ForeignKeyField(Note, backref="payments", on_delete="CASCADE")
    tender = CharField()
    amount_cents = IntegerField()
    created_at = DateTimeField(default=utcnow)
    request_id = CharField(null=True, unique=True)  # the register's id for this payment: a retry never pays twice


class PrintJob(BaseModel):
    """The print queue: one row per receipt to print, sent in order by the register's spooler."""

    register = CharField(index=True)
    receipt_no = CharField(null=True)
    kind = CharField(default="receipt")         # receipt | report
    body = TextField(null=True)                 # a report's rows as JSON (receipts are built from the note)
    reprint = BooleanField(default=False)       # printed marked COPY: asked for, or after an uncertain attempt
    kick_drawer = BooleanField(default=False)
    state = CharField(default="waiting", index=True)  # waiting | printed
    attempts = IntegerField(default=0)
    last_error = CharField(default="")
    created_at = DateTimeField(default=utcnow)
    next_try_at = DateTimeField(default=utcnow)
    printed_at = DateTimeField(null=True)
    # set (committed) before the bytes go out, cleared when an attempt surely printed nothing: a job
    # found with it set may have printed, and prints again as COPY without the drawer (migration 18)
    started_at = DateTimeField(null=True)
    original_of = CharField(null=True, unique=True)   # the receipt whose original this prints (None: a copy)


class Campaign(BaseModel):
    """A message a manager sent to a group or a tier."""

    name = CharField(default="")
    channel = CharField()                      # sms | email
    audience = CharField()                     # "group:VIP", "tier:Gold" or "all"
    subject = CharField(default="")
    text = TextField()
    created_by = ForeignKeyField(User, null=True)
    created_at = DateTimeField(default=utcnow)
    count = IntegerField(default=0)


class Message(BaseModel):
    """The outbox: every message is a row; a worker sends them. `key` makes each trigger fire once."""

    customer = ForeignKeyField(Customer, null=True, backref="messages", on_delete="SET NULL")
    channel = CharField()                      # sms | email
    template = CharField()                     # invite | birthday | tier | expiry | campaign
    params = TextField(default="{}")           # what the template is filled with (JSON)
    to = CharField(default="")                 # the address when it was sent (blank until then)
    subject = CharField(default="")
    body = TextField(default="")               # the text as sent (blank until then)
    marketing = BooleanField(default=False)
    state = CharField(default="queued", index=True)   # queued | sending | sent | failed
    attempts = IntegerField(default=0)
    last_error = CharField(default="")
    key = CharField(unique=True)               # invite:12, birthday:12:2026, campaign:3:12 ...
    campaign = ForeignKeyField(Campaign, null=True, backref="messages")
    created_at = DateTimeField(default=utcnow)
    next_try_at = DateTimeField(default=utcnow, index=True)
    sent_at = DateTimeField(null=True, index=True)


class ConsentEvent(BaseModel):
    """Append-only: each consent given or withdrawn, what it covers, when, where and by whom.

    `purpose` is `marketing` (birthdays, campaigns, tier and expiry notices on
    that channel) or `invite` (the account invitation, a service message);
    `source` is where it happened: counter, portal, import, stop, unsubscribe,
    forget, cli. `user` is the signed-in cashier for the counter, else null
    (the customer themself).
    """

    customer = ForeignKeyField(Customer, backref="consents", on_delete="CASCADE")
    channel = CharField()                      # sms | email
    purpose = CharField()                      # marketing | invite
    granted = BooleanField()
    source = CharField()
    user = ForeignKeyField(User, null=True)
    register = CharField(default="")
    at = DateTimeField(default=utcnow)


class AuditLog(BaseModel):
    """Append-only: overrides, cancellations, sign-ins, adjustments; each row chained to the one before
    it by hash (domain/audit_chain.py). Written only through services/audit.py `record`."""

    id = AutoField()
    at = DateTimeField(default=utcnow, index=True)
    user = ForeignKeyField(User, null=True)
    approved_by = ForeignKeyField(User, null=True)
    register = CharField(default="")
    action = CharField()
    detail = TextField(default="")
    prev_hash = CharField(default="")   # hex SHA-256 of the row before (migration 17)
    hash = CharField(default="")        # hex SHA-256 of prev_hash and this row's content


class FiscalDoc(BaseModel):
    """The fiscal outbox (issue 22, docs/fiscal.md): one DGI document per completed sale or return, written in
    the sale's transaction, sent by a worker. `number` is the billing point's consecutive dNroDF, gap-free
    (unique with `branch` and `point`); `security_code` (dSeg) is drawn once so a retry builds the same document."""

    note = ForeignKeyField(Note, unique=True, backref="fiscal", on_delete="CASCADE")
    kind = CharField()                         # invoice | credit_note
    branch = CharField(default="0000")         # dSucEm: each branch and point numbers on its own
    point = IntegerField()                     # dPtoFacDF
    number = IntegerField()                    # dNroDF
    security_code = CharField()                # dSeg, 9 digits
    issued_at = DateTimeField()                # dFechaEm (the sale's completion)
    state = CharField(default="pending", index=True)   # pending | authorized | contingency | rejected
    emission = CharField(default="normal")     # normal | contingency (iTpEmis 01 / 02)
    contingency_at = DateTimeField(null=True)  # dFechaCont
    contingency_reason = CharField(default="")  # dMotCont
    receiver_note = CharField(default="")      # why a customer got a final-consumer invoice
    cufe = CharField(default="")               # ours when built; the provider's once authorized
    qr = TextField(default="")                 # the QR URL the provider answered
    protocol = CharField(default="")           # the authorization's protocol number
    code = CharField(default="")               # the provider's last code and message (a rejection's)
    message = TextField(default="")
    attempts = IntegerField(default=0)
    next_try_at = DateTimeField(default=utcnow)
    authorized_at = DateTimeField(null=True)
    xml = TextField(default="")                # the document as last sent

    class Meta:
        table_name = "fiscal_document"
        indexes = ((("branch", "point", "number"), True),)


class SyncDiscrepancy(BaseModel):
    """What an offline register's sync could not apply as the register did (docs/offline.md): points spent
    twice on two offline registers (`overrun`), a receipt number already taken (`receipt_clash`), a customer
    made offline who was already on the server (`customer_merged`), a card already someone else's. For the
    manager to see (`tui-pos sync --problems`, the doctor); never a balance silently written below zero."""

    at = DateTimeField(default=utcnow, index=True)
    register = CharField()
    kind = CharField()
    receipt_no = CharField(default="")
    customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL")
    points_asked = IntegerField(default=0)
    points_taken = IntegerField(default=0)
    detail = TextField(default="")
    key = CharField(unique=True)               # the journal entry and what happened: written once on a replay


class SyncApplied(BaseModel):
    """Each offline journal entry the server has applied, by the id its register made (issue 24): a replay
    after a lost answer, a crash or kill -9 finds it here, in the same transaction, and applies nothing."""

    uid = CharField(unique=True)
    register = CharField()
    kind = CharField()                         # sale | return | customer | audit
    server_id = IntegerField(null=True)        # the row it became on the server
    at = DateTimeField(default=utcnow)


ALL_MODELS = [PointOfSale, Register, User, Section, Product, Barcode, PriceRate, PriceRateLine,
              SpecificPrice, CustomerGroup, Customer, CustomerGroupMember, LoyaltyCard, CustomerWord,
              LoyaltyMovement, LoyaltyMonth, LoyaltyProgram, StampCard, StampEvent, DgiCheck, DayClose, Note, NoteLine,
              Payment, PrintJob, Campaign, Message, ConsentEvent, PinLock, AuditLog, FiscalDoc,
              SyncDiscrepancy, SyncApplied, StorePrice]

__all__ = [m.__name__ for m in ALL_MODELS] + ["ALL_MODELS", "db", "local_time", "utcnow"]

"""Numbered schema migrations.  `migrate()` applies the missing ones in order.

Each migration is `up(db, migrator)` and runs in its own transaction (where the
backend allows DDL in one).  Migration 1 freezes the first schema in local
model classes so that it never changes when the live models do.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from peewee import (
    BooleanField,
    CharField,
    Database,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
)
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_ops

Migration = Callable[[Database, SchemaMigrator], None]


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


def m001_initial(database: Database, migrator: SchemaMigrator) -> None:
    """The first schema: stores, registers, users, catalogue, notes, payments, audit."""

    class Base(Model):
        class Meta:
            legacy_table_names = False

    class PointOfSale(Base):
        code = CharField(unique=True)
        name = CharField()

    class Register(Base):
        code = CharField(unique=True)
        point_of_sale = ForeignKeyField(PointOfSale)
        next_seq = IntegerField(default=1)

    class User(Base):
        name = CharField(unique=True)
        role = CharField()
        pin_hash = CharField()
        active = BooleanField(default=True)
        created_at = DateTimeField(default=_now)

    class Section(Base):
        name = CharField(unique=True)

    class Product(Base):
        sku = CharField(unique=True)
        name = CharField()
        section = ForeignKeyField(Section, null=True)
        price_cents = IntegerField()
        tax_rate_bp = IntegerField(default=0)
        points = IntegerField(null=True)
        points_cost = IntegerField(null=True)
        active = BooleanField(default=True)

    class Barcode(Base):
        code = CharField(unique=True)
        product = ForeignKeyField(Product, on_delete="CASCADE")

    class Note(Base):
        register = ForeignKeyField(Register)
        kind = CharField(default="sale")
        status = CharField(default="open", index=True)
        sales_mode = CharField(default="counter")
        cashier = ForeignKeyField(User, null=True)
        label = CharField(default="")
        opened_at = DateTimeField(default=_now)
        closed_at = DateTimeField(null=True)
        seq = IntegerField(null=True)
        receipt_no = CharField(null=True, unique=True)
        total_cents = IntegerField(default=0)
        return_of = ForeignKeyField("self", null=True)

    class NoteLine(Base):
        note = ForeignKeyField(Note, on_delete="CASCADE")
        product = ForeignKeyField(Product, null=True)
        sku = CharField()
        name = CharField()
        qty = IntegerField()
        unit_price_cents = IntegerField()
        list_price_cents = IntegerField()
        tax_rate_bp = IntegerField(default=0)
        discount_percent_bp = IntegerField(default=0)
        discount_cents = IntegerField(default=0)
        return_of_line = ForeignKeyField("self", null=True)
        created_at = DateTimeField(default=_now)

    class Payment(Base):
        note = ForeignKeyField(Note, on_delete="CASCADE")
        tender = CharField()
        amount_cents = IntegerField()
        created_at = DateTimeField(default=_now)

    class AuditLog(Base):
        at = DateTimeField(default=_now)
        user = ForeignKeyField(User, null=True)
        approved_by = ForeignKeyField(User, null=True)
        register = CharField(default="")
        action = CharField()
        detail = TextField(default="")

    models = [PointOfSale, Register, User, Section, Product, Barcode, Note,
              NoteLine, Payment, AuditLog]
    with database.bind_ctx(models):
        database.create_tables(models)


def m002_tax_exclusive_and_search(database: Database, migrator: SchemaMigrator) -> None:
    """Prices that exclude tax, and an accent-free search column for F3."""
    run_ops(
        migrator.add_column("product", "tax_included", BooleanField(default=True)),
        migrator.add_column("note_line", "tax_included", BooleanField(default=True)),
        migrator.add_column("product", "search_text", CharField(default="")),
        migrator.add_index("product", ("search_text",), False),
    )
    # Fill the new search column for products that already exist.
    from tui_pos.domain.text import search_key
    rows = database.execute_sql("SELECT id, name, sku FROM product").fetchall()
    for pid, name, sku in rows:
        database.execute_sql("UPDATE product SET search_text = %s WHERE id = %s"
                             .replace("%s", database.param), (search_key(f"{name} {sku}"), pid))


def m003_customers(database: Database, migrator: SchemaMigrator) -> None:
    """Customers, cards, groups, price rates, specific prices and the loyalty ledger.

    These tables are created from the live models, so their definitions at the
    time of this migration are the models'. A later change to one of them must
    come as a migration that checks whether the column is already there
    (`_add_column_if_missing`), since a new database gets the live model here.
    """
    from tui_pos.models import (
        Customer,
        CustomerGroup,
        CustomerGroupMember,
        CustomerWord,
        LoyaltyCard,
        LoyaltyMovement,
        PriceRate,
        PriceRateLine,
        SpecificPrice,
    )

    database.create_tables([PriceRate, PriceRateLine, SpecificPrice, CustomerGroup, Customer,
                            CustomerGroupMember, LoyaltyCard, CustomerWord, LoyaltyMovement])
    run_ops(
        migrator.add_column("note", "customer_id", ForeignKeyField(Customer, null=True, field=Customer.id)),
        migrator.add_column("note_line", "price_source", CharField(default="retail")),
        migrator.add_column("note_line", "discount_source", CharField(default="")),
    )
    # lines discounted or re-priced before this migration were the cashier's doing
    database.execute_sql("UPDATE note_line SET discount_source = 'manual' "
                         "WHERE discount_percent_bp <> 0 OR discount_cents <> 0")
    database.execute_sql("UPDATE note_line SET price_source = 'manual' WHERE unit_price_cents <> list_price_cents")
    for name in ("Employees", "Wholesalers", "VIP"):
        database.execute_sql("INSERT INTO customer_group (name, discount_bp) VALUES (%s, 0)"
                             .replace("%s", database.param), (name,))


def _add_column_if_missing(database: Database, migrator: SchemaMigrator, table: str, column: str, field) -> None:
    """For migrations after 3: a new database already has the live model's columns."""
    if column not in {c.name for c in database.get_columns(table)}:
        run_ops(migrator.add_column(table, column, field))


def m004_dgi_cache(database: Database, migrator: SchemaMigrator) -> None:
    """The cache of online RUC checks."""
    from tui_pos.models import DgiCheck
    database.create_tables([DgiCheck], safe=True)


def m005_loyalty_at_the_register(database: Database, migrator: SchemaMigrator) -> None:
    """The shared program, redemptions and tiers on notes, offered units on lines."""
    from tui_pos.models import LoyaltyProgram
    database.create_tables([LoyaltyProgram], safe=True)
    for table, column, fld in [
        ("note", "tier_name", CharField(default="")), ("note", "tier_multiplier", CharField(default="1")),
        ("note", "redeem_points", IntegerField(default=0)), ("note", "redeem_cents", IntegerField(default=0)),
        ("note", "loyalty_before", IntegerField(null=True)), ("note", "loyalty_used", IntegerField(null=True)),
        ("note", "loyalty_earned", IntegerField(null=True)), ("note", "loyalty_after", IntegerField(null=True)),
        ("note_line", "offered_qty", IntegerField(default=0)), ("note_line", "points_cost", IntegerField(null=True)),
    ]:
        _add_column_if_missing(database, migrator, table, column, fld)


def m006_stamp_offers(database: Database, migrator: SchemaMigrator) -> None:
    """Stamp offers: each customer's progress and rewards, and reward units on lines."""
    from tui_pos.models import StampCard, StampEvent
    database.create_tables([StampCard, StampEvent], safe=True)
    _add_column_if_missing(database, migrator, "note_line", "reward_qty", IntegerField(default=0))
    _add_column_if_missing(database, migrator, "note_line", "reward_offer", CharField(default=""))


def m007_print_queue(database: Database, migrator: SchemaMigrator) -> None:
    """The print queue: receipts waiting for the printer survive a restart."""
    from tui_pos.models import PrintJob
    database.create_tables([PrintJob], safe=True)


def m008_payment_request_id(database: Database, migrator: SchemaMigrator) -> None:
    """Each payment carries the register's id for it, so a retry after a lost connection pays once."""
    if "request_id" not in {c.name for c in database.get_columns("payment")}:
        run_ops(migrator.add_column("payment", "request_id", CharField(null=True)),
                migrator.add_index("payment", ("request_id",), True))


def m009_loyalty_months(database: Database, migrator: SchemaMigrator) -> None:
    """Monthly totals of the ledger for the statistics, filled from the ledger once."""
    from tui_pos.models import LoyaltyMonth, LoyaltyMovement
    database.create_tables([LoyaltyMonth], safe=True)
    if not any(ix.columns == ["points_earned"] for ix in database.get_indexes("customer")):
        run_ops(migrator.add_index("customer", ("points_earned",), False))  # tiers and leaders by index
    totals: dict[tuple[str, str], list[int]] = {}
    for at, kind, points in LoyaltyMovement.select(LoyaltyMovement.at, LoyaltyMovement.kind,
                                                   LoyaltyMovement.points).tuples().iterator():
        entry = totals.setdefault((at.strftime("%Y-%m"), kind), [0, 0])
        entry[0] += points
        entry[1] += 1
    rows = [{"month": m, "kind": k, "points": v[0], "movements": v[1]} for (m, k), v in totals.items()]
    for i in range(0, len(rows), 500):
        LoyaltyMonth.insert_many(rows[i:i + 500]).execute()


def m010_redeemed_and_ledger_dates(database: Database, migrator: SchemaMigrator) -> None:
    """Lifetime points redeemed on the customer (the report reads no ledger) and the ledger indexed by date."""
    _add_column_if_missing(database, migrator, "customer", "points_redeemed", IntegerField(default=0))
    database.execute_sql(
        "UPDATE customer SET points_redeemed = COALESCE((SELECT -SUM(m.points) FROM loyalty_movement m "
        "WHERE m.customer_id = customer.id AND m.kind IN ('redeem', 'offer')), 0)")
    if not any(ix.columns == ["at"] for ix in database.get_indexes("loyalty_movement")):
        run_ops(migrator.add_index("loyalty_movement", ("at",), False))


def m011_close_of_day(database: Database, migrator: SchemaMigrator) -> None:
    """Z reports: each closes a register's day; notes point at the Z that closed them; reports are printed."""
    from tui_pos.models import DayClose
    database.create_tables([DayClose], safe=True)
    if "day_close_id" not in {c.name for c in database.get_columns("note")}:
        run_ops(migrator.add_column("note", "day_close_id",
                                    ForeignKeyField(DayClose, null=True, field=DayClose.id)),
                migrator.add_index("note", ("register_id", "day_close_id"), False))
    _add_column_if_missing(database, migrator, "print_job", "body", TextField(null=True))


def m012_messages(database: Database, migrator: SchemaMigrator) -> None:
    """The outbox and campaigns; visits and marketing opt-out on customers (visits counted from the notes)."""
    from tui_pos.models import Campaign, Message
    database.create_tables([Campaign, Message], safe=True)
    _add_column_if_missing(database, migrator, "customer", "visits", IntegerField(default=0))
    _add_column_if_missing(database, migrator, "customer", "marketing_opt_out", BooleanField(default=False))
    database.execute_sql(
        "UPDATE customer SET visits = (SELECT COUNT(*) FROM note n WHERE n.customer_id = customer.id "
        "AND n.status = 'paid' AND n.kind = 'sale')")


def m013_loyalty_month_shards(database: Database, migrator: SchemaMigrator) -> None:
    """Monthly loyalty totals kept per register: eight registers earning at once no longer queue on one row."""
    if "shard" not in {c.name for c in database.get_columns("loyalty_month")}:
        run_ops(migrator.add_column("loyalty_month", "shard", CharField(default="")))
    for ix in database.get_indexes("loyalty_month"):
        if ix.unique and ix.columns == ["month", "kind"]:
            run_ops(migrator.drop_index("loyalty_month", ix.name))
    if not any(ix.unique and ix.columns == ["month", "kind", "shard"] for ix in database.get_indexes("loyalty_month")):
        run_ops(migrator.add_index("loyalty_month", ("month", "kind", "shard"), True))


def m014_note_lines_by_note_and_product(database: Database, migrator: SchemaMigrator) -> None:
    """Note lines indexed by (note, product), in place of the indexes on note alone and on product alone.

    A scan looks for the note's earlier line of the same product. With the two
    single-column indexes, PostgreSQL without fresh statistics (autovacuum off,
    or a new store whose tables were never analysed) costed both alike and took
    the one on product: it read that product's lines in every note ever rung
    up, so each scan got slower with the store's history. The two-column index
    answers that lookup and every lookup by note. Nothing looks lines up by
    product alone (products are deactivated, never deleted), so that index
    only cost every line written.
    """
    indexes = database.get_indexes("note_line")
    if not any(ix.columns == ["note_id", "product_id"] for ix in indexes):
        run_ops(migrator.add_index("note_line", ("note_id", "product_id"), False))
    for ix in indexes:
        if ix.columns in (["note_id"], ["product_id"]) and not ix.unique:
            run_ops(migrator.drop_index("note_line", ix.name))


def m015_consent(database: Database, migrator: SchemaMigrator) -> None:
    """Consent as a log (what, when, where, by whom) and the invitation declined at the counter."""
    from tui_pos.models import ConsentEvent
    _add_column_if_missing(database, migrator, "customer", "invite_declined", BooleanField(default=False))
    database.create_tables([ConsentEvent], safe=True)


def m016_pin_lock(database: Database, migrator: SchemaMigrator) -> None:
    """Wrong PINs in a row per register, and the lock they bring."""
    from tui_pos.models import PinLock
    database.create_tables([PinLock], safe=True)


def m017_audit_chain(database: Database, migrator: SchemaMigrator) -> None:
    """The audit log as a hash chain: each row carries the hash of the row before it (domain/audit_chain.py).

    The rows already there are chained here in id order, so an old log verifies from the start; the log is
    indexed by time for `tui-pos audit --day`.
    """
    from tui_pos.domain.audit_chain import GENESIS, row_hash
    from tui_pos.services.audit import chain_rows
    _add_column_if_missing(database, migrator, "audit_log", "prev_hash", CharField(default=""))
    _add_column_if_missing(database, migrator, "audit_log", "hash", CharField(default=""))
    if not any(ix.columns == ["at"] for ix in database.get_indexes("audit_log")):
        run_ops(migrator.add_index("audit_log", ("at",), False))
    sql = "UPDATE audit_log SET prev_hash = %s, hash = %s WHERE id = %s".replace("%s", database.param)
    prev, changes = GENESIS, []
    for row in chain_rows():   # read a page at a time, each page whole before its rows are changed
        digest = row_hash(prev, row)
        changes.append((prev, digest, row.id))
        prev = digest
        if len(changes) == 2000:
            database.cursor().executemany(sql, changes)
            changes = []
    if changes:
        database.cursor().executemany(sql, changes)


def _movement_key_sql() -> str:
    """services/loyalty.py `movement_key` of the rows written before migration 18, as SQL (frozen here)."""
    return ("receipt_no || ':' || kind || CASE"
            " WHEN kind = 'offer' THEN ':' || COALESCE(product_sku, '')"
            " WHEN kind = 'return' THEN CASE WHEN substr(reason, 1, 6) = 'earned' THEN ':earn'"
            " WHEN substr(reason, 1, 8) = 'redeemed' THEN ':redeem'"
            " ELSE ':offer:' || COALESCE(product_sku, '') END"
            " ELSE '' END")


def _key_once(database: Database, table: str, column: str, expr: str, where: str) -> list[int]:
    """Give `column` = `expr` to the first row (lowest id) of each value among the rows `where`, and
    `expr#dup<id>` to the later ones. Returns the ids of the later ones (the repeats)."""
    database.execute_sql(
        f'UPDATE {table} SET "{column}" = {expr} WHERE "{column}" IS NULL AND {where} AND id IN '
        f'(SELECT MIN(id) FROM {table} WHERE {where} GROUP BY {expr})')
    repeats = [r[0] for r in database.execute_sql(
        f'SELECT id FROM {table} WHERE "{column}" IS NULL AND {where} ORDER BY id').fetchall()]
    if repeats:
        database.execute_sql(f"UPDATE {table} SET \"{column}\" = {expr} || '#dup' || CAST(id AS VARCHAR(20)) "
                             f'WHERE "{column}" IS NULL AND {where}')
    return repeats


def _unique_index(database: Database, migrator: SchemaMigrator, table: str, column: str) -> None:
    if not any(ix.unique and ix.columns == [column] for ix in database.get_indexes(table)):
        run_ops(migrator.add_index(table, (column,), True))


def m018_written_once(database: Database, migrator: SchemaMigrator) -> None:
    """Ledger rows, stamp events and original receipts written once per document and kind (issue 28, 12-13).

    Each loyalty movement of a document gets a unique `key` (`R1-000007:earn`, `R1-000007:offer:SKU`,
    `R1-000009:return:redeem`; an adjustment `adjust:<request id>`), each stamp event one
    (`R1-000007:progress:<offer>`), and the print job of a receipt's original its `original_of` (the
    receipt number; copies have none), also unique. `print_job.started_at` marks an attempt that may
    have printed (services/printing.py).

    An older database may hold rows that repeat a document and kind (a sale's points written twice, a
    receipt queued twice as an original). Nothing is deleted: a balance is the sum of its ledger, and a
    repeated row is what happened. The first row (lowest id) keeps the key; each later one gets the key
    and `#dup<its id>` (so `key LIKE '%#dup%'` lists them) and the unique index holds. A repeated
    original receipt gets no `original_of`, and if it is still waiting it prints as a copy: COPY, no
    drawer. Each kind of repeat is logged as a warning with its count and ids.
    """
    import logging
    log = logging.getLogger("tui_pos.migrations")
    _add_column_if_missing(database, migrator, "loyalty_movement", "key", CharField(null=True))
    _add_column_if_missing(database, migrator, "stamp_event", "key", CharField(null=True))
    _add_column_if_missing(database, migrator, "print_job", "started_at", DateTimeField(null=True))
    _add_column_if_missing(database, migrator, "print_job", "original_of", CharField(null=True))
    repeats = _key_once(database, "loyalty_movement", "key", _movement_key_sql(), "receipt_no IS NOT NULL")
    if repeats:
        log.warning("migration 18: %d loyalty movements repeat a receipt and kind; kept, keyed #dup<id>: ids %s",
                    len(repeats), repeats[:50])
    repeats = _key_once(database, "stamp_event", "key", "receipt_no || ':' || kind || ':' || offer",
                        "receipt_no IS NOT NULL")
    if repeats:
        log.warning("migration 18: %d stamp events repeat a receipt, kind and offer; kept, keyed #dup<id>: ids %s",
                    len(repeats), repeats[:50])
    p = database.param
    originals = f"kind = 'receipt' AND reprint = {p} AND receipt_no IS NOT NULL"
    database.execute_sql(f"UPDATE print_job SET original_of = receipt_no WHERE original_of IS NULL AND id IN "
                         f"(SELECT MIN(id) FROM print_job WHERE {originals} GROUP BY receipt_no)", (False,))
    repeats = [r[0] for r in database.execute_sql(
        f"SELECT id FROM print_job WHERE original_of IS NULL AND {originals} ORDER BY id", (False,)).fetchall()]
    if repeats:
        database.execute_sql(f"UPDATE print_job SET reprint = {p}, kick_drawer = {p} "
                             f"WHERE original_of IS NULL AND state = 'waiting' AND {originals}", (True, False, False))
        log.warning("migration 18: %d print jobs repeat a receipt's original; those waiting print as COPY: ids %s",
                    len(repeats), repeats[:50])
    _unique_index(database, migrator, "loyalty_movement", "key")
    _unique_index(database, migrator, "stamp_event", "key")
    _unique_index(database, migrator, "print_job", "original_of")


def m019_pin_failures_expire(database: Database, migrator: SchemaMigrator) -> None:
    """When the last wrong PIN was typed: the count of wrong PINs expires instead of a right PIN resetting it."""
    _add_column_if_missing(database, migrator, "pin_lock", "last_failure", DateTimeField(null=True))


def m020_web_order_ready(database: Database, migrator: SchemaMigrator) -> None:
    """When the store first took a web order in hand (F12) and first parked it again (made, waiting for
    pick-up): the "preparing" and "ready" its customer sees (services/orders.py)."""
    _add_column_if_missing(database, migrator, "note", "taken_at", DateTimeField(null=True))
    _add_column_if_missing(database, migrator, "note", "ready_at", DateTimeField(null=True))


def m021_fiscal_outbox(database: Database, migrator: SchemaMigrator) -> None:
    """The fiscal outbox: one DGI document per completed sale or return (issue 22)."""
    from tui_pos.models import FiscalDoc
    database.create_tables([FiscalDoc], safe=True)


def m022_product_search(database: Database, migrator: SchemaMigrator) -> None:
    """Search as you type by index in a catalog of 300,000 products (issue 23): a word starting with what was
    typed is a substring by trigrams. SQLite: an FTS5 trigram table kept by triggers, of search_text with two
    spaces before each word (a word's first letter is the trigram "  x"); PostgreSQL:
    pg_trgm GIN indexes (products and barcodes; skipped when the server lacks pg_trgm: search stays
    right, only slower). Products by name, for the first page of a search in name order."""
    if not any(ix.columns == ["name"] for ix in database.get_indexes("product")):
        run_ops(migrator.add_index("product", ("name",), False))
    if isinstance(database, SqliteDatabase):
        for sql in (
            "CREATE VIRTUAL TABLE IF NOT EXISTS product_search USING fts5(words, tokenize = 'trigram')",
            "DELETE FROM product_search",
            "INSERT INTO product_search (rowid, words) SELECT id, '  ' || replace(search_text, ' ', '  ') FROM product",
            "CREATE TRIGGER IF NOT EXISTS product_search_insert AFTER INSERT ON product BEGIN "
            "INSERT INTO product_search (rowid, words) "
            "VALUES (new.id, '  ' || replace(new.search_text, ' ', '  ')); END",
            "CREATE TRIGGER IF NOT EXISTS product_search_update AFTER UPDATE OF search_text ON product BEGIN "
            "UPDATE product_search SET words = '  ' || replace(new.search_text, ' ', '  ') WHERE rowid = old.id; END",
            "CREATE TRIGGER IF NOT EXISTS product_search_delete AFTER DELETE ON product BEGIN "
            "DELETE FROM product_search WHERE rowid = old.id; END",
            "CREATE INDEX IF NOT EXISTS barcode_code_nocase ON barcode (code COLLATE NOCASE)",
        ):
            database.execute_sql(sql)
        return
    for create in ("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
                   "CREATE EXTENSION IF NOT EXISTS pg_trgm"):
        try:
            with database.atomic():     # a savepoint: a refusal leaves the migration's transaction usable
                database.execute_sql(create)
            break
        except Exception:  # noqa: BLE001 - no public schema, or no pg_trgm on this server
            continue
    # an extension is the database's, in one schema (maybe not on this search_path): its operator class by name
    found = database.execute_sql("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                                 "WHERE e.extname = 'pg_trgm'").fetchone()
    if found is None:
        return          # without pg_trgm the LIKE searches scan, as before
    ops = f'"{found[0]}".gin_trgm_ops'
    database.execute_sql(f"CREATE INDEX IF NOT EXISTS product_search_trgm ON product USING gin (search_text {ops})")
    database.execute_sql(f"CREATE INDEX IF NOT EXISTS barcode_code_trgm ON barcode USING gin (code {ops})")


# What an offline register's replica holds (issue 24, docs/offline.md), in an order that keeps foreign keys.
REPLICATED = ("point_of_sale", "register", "user", "section", "product", "barcode", "store_price", "price_rate",
              "price_rate_line", "specific_price", "customer_group", "customer", "customer_group_member",
              "loyalty_card", "customer_word", "loyalty_program", "stamp_card")


def m023_offline_registers(database: Database, migrator: SchemaMigrator) -> None:
    """Registers that sell while the server is away, and a chain of stores (issue 24): per-store prices
    (`store_price`), a sale's own id (`note.uid`, unique), each
    journal entry applied (`sync_applied`, by its register's id), the sync's discrepancies, and on PostgreSQL
    the change log the replicas refresh from: statement triggers
    write each changed row's table, id and transaction (xid8) into `replica_change`, one row per row."""
    from tui_pos.models import StorePrice, SyncApplied, SyncDiscrepancy
    _add_column_if_missing(database, migrator, "note", "uid", CharField(null=True))
    _unique_index(database, migrator, "note", "uid")
    _add_column_if_missing(database, migrator, "note", "carried_from", IntegerField(null=True))
    database.create_tables([SyncDiscrepancy, SyncApplied, StorePrice], safe=True)
    if isinstance(database, SqliteDatabase):
        return
    database.execute_sql("CREATE TABLE IF NOT EXISTS replica_change (tbl varchar(40) NOT NULL, "
                         "row_id bigint NOT NULL, xid xid8 NOT NULL, PRIMARY KEY (tbl, row_id))")
    database.execute_sql("CREATE INDEX IF NOT EXISTS replica_change_xid ON replica_change (xid)")
    database.execute_sql(
        "CREATE OR REPLACE FUNCTION replica_note_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO replica_change (tbl, row_id, xid) SELECT DISTINCT TG_TABLE_NAME, id, pg_current_xact_id() "
        "FROM changed_rows ON CONFLICT (tbl, row_id) DO UPDATE SET xid = EXCLUDED.xid; RETURN NULL; END $$")
    for table in REPLICATED:
        for event, rows in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            name = f"replica_{event.lower()}"
            database.execute_sql(f'DROP TRIGGER IF EXISTS {name} ON "{table}"')
            database.execute_sql(f'CREATE TRIGGER {name} AFTER {event} ON "{table}" REFERENCING {rows} TABLE AS '
                                 "changed_rows FOR EACH STATEMENT EXECUTE FUNCTION replica_note_change()")


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial", m001_initial),
    (2, "tax_exclusive_and_search", m002_tax_exclusive_and_search),
    (3, "customers", m003_customers),
    (4, "dgi_cache", m004_dgi_cache),
    (5, "loyalty_at_the_register", m005_loyalty_at_the_register),
    (6, "stamp_offers", m006_stamp_offers),
    (7, "print_queue", m007_print_queue),
    (8, "payment_request_id", m008_payment_request_id),
    (9, "loyalty_months", m009_loyalty_months),
    (10, "redeemed_and_ledger_dates", m010_redeemed_and_ledger_dates),
    (11, "close_of_day", m011_close_of_day),
    (12, "messages", m012_messages),
    (13, "loyalty_month_shards", m013_loyalty_month_shards),
    (14, "note_lines_by_note_and_product", m014_note_lines_by_note_and_product),
    (15, "consent", m015_consent),
    (16, "pin_lock", m016_pin_lock),
    (17, "audit_chain", m017_audit_chain),
    (18, "written_once", m018_written_once),
    (19, "pin_failures_expire", m019_pin_failures_expire),
    (20, "web_order_ready", m020_web_order_ready),
    (21, "fiscal_outbox", m021_fiscal_outbox),
    (22, "product_search", m022_product_search),
    (23, "offline_registers", m023_offline_registers),
]

LATEST = MIGRATIONS[-1][0]


def _ensure_version_table(database: Database) -> None:
    database.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, applied_at VARCHAR(32) NOT NULL)"
    )


def applied_versions(database: Database) -> list[int]:
    """Versions already applied, ascending."""
    _ensure_version_table(database)
    return [r[0] for r in database.execute_sql(
        "SELECT version FROM schema_migrations ORDER BY version").fetchall()]


class SchemaOutOfDate(Exception):
    """The database's schema is older than this tui-pos (or missing): `tui-pos init` brings it up."""


def check_schema(database: Database) -> None:
    """Raise SchemaOutOfDate unless every migration is applied (registers sharing a server never migrate it)."""
    if "schema_migrations" not in database.get_tables():
        raise SchemaOutOfDate("the database has no tui-pos tables yet: run `tui-pos init` once, "
                              "then start the registers")
    done = applied_versions(database)
    current = done[-1] if done else 0
    if current < LATEST:
        raise SchemaOutOfDate(f"the database schema is at version {current} and this tui-pos needs {LATEST}: "
                              "run `tui-pos init` to upgrade it (it never drops data)")
    if current > LATEST:
        raise SchemaOutOfDate(f"the database schema is at version {current}, newer than this tui-pos "
                              f"({LATEST}): upgrade tui-pos on this register")


def migrate(database: Database, target: int | None = None) -> list[int]:
    """Apply every missing migration up to `target` (default: all). Idempotent.

    Returns the versions applied by this call.
    """
    done = set(applied_versions(database))
    todo = [m for m in MIGRATIONS if m[0] not in done and (target is None or m[0] <= target)]
    if not todo:
        return []
    migrator = SchemaMigrator.from_database(database)
    sqlite = isinstance(database, SqliteDatabase)
    if sqlite:
        # SQLite rebuilds a table to change a column; with foreign keys on,
        # dropping the old copy would fail. Off for the migration, checked after.
        database.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        applied = []
        for version, name, up in todo:
            with database.atomic():
                up(database, migrator)
                database.execute_sql(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)"
                    .replace("%s", database.param),
                    (version, name, _now().isoformat(timespec="seconds")),
                )
                if sqlite:
                    broken = database.execute_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration {version} broke foreign keys: {broken[:3]}")
            applied.append(version)
    finally:
        if sqlite:
            database.execute_sql("PRAGMA foreign_keys = ON")
    return applied

"""`tui-pos migrate-to URL`: move a single register's SQLite database into PostgreSQL.

Every table is copied in foreign-key order with its ids, in one transaction on
the target (all or nothing), the target's id sequences are moved past the
copied ids, and the copy is checked: the same number of rows in every table,
the same balance for every customer, every balance equal to its ledger, and
the same next receipt number for every register.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peewee import AutoField, Database, Model, PostgresqlDatabase, fn

from tui_pos.domain.errors import PosError
from tui_pos.models import ALL_MODELS, Customer, CustomerGroup, LoyaltyMovement, Register, db
from tui_pos.models.db import open_database, safe_url
from tui_pos.models.migrations import migrate

BATCH = 1000


class TransferError(PosError):
    """The copy was refused or did not check out; the target was left as it was."""


@dataclass
class TransferReport:
    """What was copied, table by table, and what was checked."""

    counts: dict[str, int] = field(default_factory=dict)
    customers_checked: int = 0
    registers_checked: int = 0


def _count(model: type[Model]) -> int:
    return model.select().count()


def migrate_to(target_url: str) -> TransferReport:
    """Copy the database bound to the proxy (the source) into the one at `target_url`."""
    if not target_url.startswith(("postgresql://", "postgres://", "postgresql+pool://", "psycopg3://")):
        raise TransferError(f"{safe_url(target_url)}: expected a postgresql://user@host/db URL to copy into")
    try:
        target = open_database(target_url)
        target.connect(reuse_if_open=True)
    except Exception as exc:  # noqa: BLE001 - one line for any driver error
        from tui_pos.models.db import explain
        raise TransferError(f"cannot open the target: {explain(exc, target_url)}") from None
    try:
        with target.bind_ctx(ALL_MODELS):  # migrations create tables through the live models
            migrate(target)
        _refuse_if_used(target)
        report = TransferReport()
        with target.atomic():
            with target.bind_ctx([CustomerGroup]):
                CustomerGroup.delete().execute()  # the groups every new schema starts with; the source has its own
            for model in ALL_MODELS:
                report.counts[model._meta.table_name] = _copy(model, target)
            _move_sequences(target)
            _check(target, report)
        return report
    finally:
        if not target.is_closed():
            target.close()


def _refuse_if_used(target: Database) -> None:
    with target.bind_ctx(ALL_MODELS):
        used = [m._meta.table_name for m in ALL_MODELS if m is not CustomerGroup and _count(m)]
    if used:
        raise TransferError(f"the target already holds data ({', '.join(used[:4])}...): copy into an empty "
                            "database, so that nothing is mixed or overwritten")


def _copy(model: type[Model], target: Database) -> int:
    """Stream one table across in id order; returns the rows copied."""
    pk = model._meta.primary_key
    copied = 0
    last = None
    while True:
        query = model.select().order_by(pk).limit(BATCH)
        if last is not None:
            query = query.where(pk > last)
        rows = list(query.dicts())
        if not rows:
            return copied
        fields = model._meta.fields  # keyed by field objects: Customer.notes is shadowed by a backref
        with target.bind_ctx([model], bind_refs=False, bind_backrefs=False):
            model.insert_many([{fields[k]: v for k, v in row.items()} for row in rows]).execute()
        copied += len(rows)
        last = rows[-1][pk.name]


def _move_sequences(target: Database) -> None:
    """Ids were copied as they were: the next id of each table comes after them."""
    if not isinstance(target, PostgresqlDatabase):
        return
    for model in ALL_MODELS:
        if isinstance(model._meta.primary_key, AutoField):
            table = model._meta.table_name
            target.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
                f'FROM "{table}"')


def _check(target: Database, report: TransferReport) -> None:
    balances = dict(Customer.select(Customer.id, Customer.points_balance).tuples())
    ledger = dict(LoyaltyMovement.select(LoyaltyMovement.customer, fn.SUM(LoyaltyMovement.points))
                  .group_by(LoyaltyMovement.customer).tuples())
    registers = dict(Register.select(Register.code, Register.next_seq).tuples())
    with target.bind_ctx(ALL_MODELS):
        for model in ALL_MODELS:
            there = _count(model)
            if there != report.counts[model._meta.table_name]:
                raise TransferError(f"{model._meta.table_name}: {report.counts[model._meta.table_name]} rows here, "
                                    f"{there} in the target; nothing was kept")
        copied = dict(Customer.select(Customer.id, Customer.points_balance).tuples())
        copied_ledger = dict(LoyaltyMovement.select(LoyaltyMovement.customer, fn.SUM(LoyaltyMovement.points))
                             .group_by(LoyaltyMovement.customer).tuples())
        copied_registers = dict(Register.select(Register.code, Register.next_seq).tuples())
    if copied != balances or copied_ledger != ledger:
        raise TransferError("customer balances or ledgers differ after the copy; nothing was kept")
    wrong = [cid for cid, bal in copied.items() if bal != (copied_ledger.get(cid) or 0)]
    if wrong:
        raise TransferError(f"{len(wrong)} customers' balances do not equal their ledger in the source "
                            "(run `tui-pos doctor`); nothing was copied")
    if copied_registers != registers:
        raise TransferError("register receipt counters differ after the copy; nothing was kept")
    report.customers_checked = len(copied)
    report.registers_checked = len(copied_registers)


__all__ = ["migrate_to", "TransferError", "TransferReport", "db"]

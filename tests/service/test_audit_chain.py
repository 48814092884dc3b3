"""The audit log as a hash chain, on SQLite and PostgreSQL: tampering found, races kept in one chain, the CLI.

Issue 28, item 3: "The audit log is a table anyone with the database can
rewrite. Each row carries the hash of the row before it (append-only, a hash
chain); `tui-pos doctor` verifies the chain and names the first row that
breaks it; `tui-pos audit` lists and filters it (user, action, day)."
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
import threading
import time

import pytest

from tui_pos.domain import audit_chain
from tui_pos.domain.audit_chain import GENESIS, AuditRow, row_hash
from tui_pos.models import db
from tui_pos.services import audit, health

BROKEN = "does not match the chain: the log was changed at or before it"


def sql(text: str, params=()):
    """Raw SQL as someone with the database would run it (%s placeholders on either backend)."""
    return db.execute_sql(text.replace("%s", db.obj.param), params)


def write_log(n: int = 6) -> None:
    for i in range(1, n + 1):
        with db.atomic():
            audit.record("line.void" if i % 2 else "pin.failure", register="R1", note=i, qty=1)


def stored(row_id: int) -> AuditRow:
    return next(audit.chain_rows(after_id=row_id - 1, batch=1))


def doctor_line() -> str:
    (check,) = health.audit_chain_checks()
    return check.line()


# ------------------------------------------------------------------ the rule, without a database

def test_the_hash_covers_every_field_and_the_row_before():
    row = AuditRow(id=7, at=dt.datetime(2026, 12, 7, 15, 31, 0), action="sale.void", user_id=2, approved_by=3,
                   register="R1", detail='{"note": 12}')
    first = row_hash(GENESIS, row)
    assert len(first) == 64 and int(first, 16) >= 0
    assert row_hash(GENESIS, row) == first                            # the same content, the same hash
    for change in ({"id": 8}, {"at": dt.datetime(2026, 12, 7, 15, 31, 0, 1)}, {"action": "sale.voi"},
                   {"user_id": None}, {"approved_by": 2}, {"register": "R2"}, {"detail": '{"note": 13}'}):
        assert row_hash(GENESIS, AuditRow(**{**row.__dict__, **change})) != first, change
    assert row_hash("1" * 64, row) != first
    # the serialization cannot be shifted between fields: "R1" + "x" is not "R" + "1x"
    a = AuditRow(id=1, at=row.at, action="a", user_id=None, approved_by=None, register="R1", detail="x")
    b = AuditRow(id=1, at=row.at, action="a", user_id=None, approved_by=None, register="R", detail="1x")
    assert audit_chain.canonical(a) != audit_chain.canonical(b)


def test_verify_names_the_first_row_that_does_not_match():
    rows, prev = [], GENESIS
    for i in range(1, 5):
        r = AuditRow(id=i, at=dt.datetime(2026, 1, 1, 8, i), action="x", user_id=None, approved_by=None,
                     register="", detail="{}", prev_hash=prev)
        r = AuditRow(**{**r.__dict__, "hash": row_hash(prev, r)})
        rows.append(r)
        prev = r.hash
    assert audit_chain.verify(rows) is None
    assert audit_chain.verify([]) is None
    assert audit_chain.verify(iter(rows)) is None                     # a stream, read once
    changed = AuditRow(**{**rows[2].__dict__, "detail": '{"x": 1}'})
    assert audit_chain.verify(rows[:2] + [changed] + rows[3:]) == 3
    assert audit_chain.verify(rows[:1] + rows[2:]) == 3               # row 2 deleted: row 3 no longer follows


# ------------------------------------------------------------------ on a database (SQLite and PostgreSQL)

def test_an_untouched_log_verifies(database):
    write_log(5)
    with db.atomic():                                       # several rows in one transaction: still a chain
        audit.record("note.cancel", register="R2", note=9)
        audit.record("line.delete", register="R2", note=9, sku="ESP")
    audit.record("user.sign_in", register="R1")             # outside a transaction: its own
    status = audit.verify_chain(batch=3)                     # pages of 3: the chain crosses pages
    assert status.broken is None and status.rows == 8
    assert status.head == audit.head_hash() == stored(8).hash
    assert [r.id for r in audit.chain_rows()] == list(range(1, 9))
    line = doctor_line()
    assert line == f"OK   audit log: 8 rows, the chain holds; newest row 8, hash {status.head[:16]}"


def test_an_empty_log_verifies(database):
    assert audit.verify_chain().broken is None and audit.head_hash() == GENESIS
    assert doctor_line() == "OK   audit log: 0 rows, the chain holds (empty)"


def forge(row: AuditRow, prev: str, **change) -> tuple[str, str]:
    """What someone who knows the algorithm writes: the changed row with a hash that fits it."""
    forged = AuditRow(**{**row.__dict__, **change, "prev_hash": prev})
    return prev, row_hash(prev, forged)


@pytest.mark.parametrize("tamper,first_broken", [
    ("update the detail", 3),
    ("delete a row", 4),
    ("insert a row in the middle", 104),
    ("insert a row in the middle, naively", 4),
    ("re-hash one row but not the next", 4),
    ("change the time", 3),
])
def test_tampering_is_found_and_the_first_row_named(database, tamper, first_broken):
    write_log(6)
    three = stored(3)
    if tamper == "update the detail":
        sql("UPDATE audit_log SET detail = %s WHERE id = 3", ('{"note": 3, "qty": 0}',))
    elif tamper == "delete a row":
        sql("DELETE FROM audit_log WHERE id = 3")
    elif tamper.startswith("insert a row in the middle"):
        sql("UPDATE audit_log SET id = id + 100 WHERE id > 3")      # make room after row 3
        prev, digest = forge(three, three.hash, id=4, action="pin.unlock", detail="{}")
        if tamper.endswith("naively"):
            prev, digest = "", ""
        sql("INSERT INTO audit_log (id, at, action, register, detail, prev_hash, hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)", (4, three.at, "pin.unlock", "R1", "{}", prev, digest))
    elif tamper == "re-hash one row but not the next":
        prev, digest = forge(three, three.prev_hash, detail='{"note": 3, "qty": 0}')
        sql("UPDATE audit_log SET detail = %s, hash = %s WHERE id = 3", ('{"note": 3, "qty": 0}', digest))
    elif tamper == "change the time":
        sql("UPDATE audit_log SET at = %s WHERE id = 3", (three.at - dt.timedelta(hours=2),))
    status = audit.verify_chain(batch=2)
    assert status.broken is not None and status.broken.id == first_broken
    line = doctor_line()
    assert line.startswith(f"FAIL audit log: row {first_broken} (") and line.endswith(BROKEN)
    shown = stored(first_broken)
    assert f"({audit.when(shown.at)}, {shown.action})" in line


def test_only_an_anchor_kept_elsewhere_shows_the_newest_rows_cut_off(database):
    """What the chain alone cannot see (docs/security.md): the newest rows deleted, or every row rewritten
    from one onward with the algorithm. The head written down (the Z report prints it) no longer matches."""
    write_log(5)
    anchor = audit.head_hash()
    sql("DELETE FROM audit_log WHERE id = 5")
    status = audit.verify_chain()
    assert status.broken is None and status.rows == 4
    assert status.head != anchor


def test_migration_17_chains_an_existing_log(db_url):
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(db_url)
    database.connect(reuse_if_open=True)
    try:
        migrate(database, target=16)
        assert "hash" not in {c.name for c in database.get_columns("audit_log")}
        start = dt.datetime(2025, 3, 1, 12, 0, 0)
        for i in range(1, 2501):   # more than one page of the migration's batches
            sql("INSERT INTO audit_log (at, action, register, detail) VALUES (%s, %s, %s, %s)",
                (start + dt.timedelta(seconds=i, microseconds=i % 3), "line.void", "R1", json.dumps({"n": i})))
        sql("DELETE FROM audit_log WHERE id = 7")   # an old log may have gaps: the chain follows id order
        assert 17 in migrate(database)
        status = audit.verify_chain()
        assert status.broken is None and status.rows == 2499
        first = stored(1)
        assert first.prev_hash == GENESIS and first.hash == row_hash(GENESIS, first)
        audit.record("user.sign_in", register="R1")             # and the chain goes on from there
        status = audit.verify_chain()
        assert status.broken is None and status.rows == 2500
        assert stored(2501).prev_hash == stored(2500).hash
    finally:
        db.close()


def test_two_registers_appending_at_once_make_one_chain(database):
    """Two connections (threads), 200 appends each, each in its own transaction with the sale work
    around it: one chain, no id given twice, every row after the one before it."""
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def register(code: str) -> None:
        try:
            db.connect(reuse_if_open=True)
            start.wait()
            for i in range(200):
                with db.atomic():
                    audit.record("line.void", register=code, n=i)
                    if i % 50 == 0:
                        time.sleep(0.002)        # a transaction that holds on a moment after its row
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=register, args=(code,)) for code in ("R1", "R2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    db.connect(reuse_if_open=True)
    status = audit.verify_chain()
    assert status.broken is None and status.rows == 400
    by_register = {}
    for row in audit.chain_rows():
        by_register.setdefault(row.register, []).append(json.loads(row.detail)["n"])
    assert by_register == {"R1": list(range(200)), "R2": list(range(200))}


@pytest.mark.postgres
def test_two_processes_appending_at_once_on_postgresql(pg_schema_url, tmp_path):
    """Two registers as two processes on one server: the advisory lock, not the threads, keeps the chain."""
    import subprocess
    import textwrap

    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(pg_schema_url)
    database.connect(reuse_if_open=True)
    migrate(database)
    db.close()
    code = textwrap.dedent('''
        import sys
        from tui_pos.models import db
        from tui_pos.models.db import bind
        from tui_pos.services import audit
        bind(sys.argv[1]).connect()
        for i in range(200):
            with db.atomic():
                audit.record("line.void", register=sys.argv[2], n=i)
    ''')
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_schema_url, r], stderr=subprocess.PIPE, text=True)
             for r in ("R1", "R2")]
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
    database.connect(reuse_if_open=True)
    status = audit.verify_chain()
    assert status.broken is None and status.rows == 400


@pytest.mark.postgres
def test_migrate_to_postgresql_keeps_the_chain(tmp_path, pg_schema_url):
    """A register's SQLite log copied into PostgreSQL verifies there, times and all, and goes on."""
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services.transfer import migrate_to
    source = bind(f"sqlite:///{tmp_path / 'pos.db'}")
    migrate(source)
    write_log(5)
    audit.record("user.sign_in", register="R1")   # `at` to the microsecond, however SQLite keeps it
    head = audit.head_hash()
    migrate_to(pg_schema_url)
    source.close()
    database = bind(pg_schema_url)
    try:
        status = audit.verify_chain()
        assert status.broken is None and status.rows == 6 and status.head == head
        audit.record("user.sign_out", register="R1")
        assert audit.verify_chain().broken is None
    finally:
        database.close()


def test_a_refused_change_leaves_no_row_and_the_chain_whole(database):
    write_log(2)
    with pytest.raises(RuntimeError):
        with db.atomic():
            audit.record("note.cancel", register="R1", note=1)
            raise RuntimeError("the change it records failed")
    audit.record("note.cancel", register="R1", note=2)
    assert [r.id for r in audit.chain_rows()] == [1, 2, 3]
    assert audit.verify_chain().broken is None


# ------------------------------------------------------------------ `tui-pos audit` and `tui-pos doctor`

@pytest.fixture
def cli(database, db_url, tmp_path, monkeypatch, capsys):
    """Run `tui-pos ARGS` in this process against the test database; returns (status, stdout, stderr)."""
    for driver in ("psycopg", "psycopg2"):   # a SQLite config marks the PostgreSQL drivers absent (cli.main)
        try:
            __import__(driver)
        except ImportError:
            pass
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n')
    monkeypatch.setenv("TUI_POS_CONFIG", str(config))

    def run(*args: str) -> tuple[int, str, str]:
        from tui_pos.cli import main
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


@pytest.fixture
def people(database):
    """Ana (cashier) and Marco (manager)."""
    from tui_pos.services import users
    ana = users.add_user("Ana", "cashier", "1111").id
    marco = users.add_user("Marco", "manager", "2222").id
    return ana, marco


def actions(out: str) -> list[str]:
    """The action column of `tui-pos audit`'s table."""
    header, *lines = out.splitlines()
    start, end = header.index("action"), header.index("detail")
    return [line[start:end].strip() for line in lines]


def at(when: str):
    return lambda: dt.datetime.fromisoformat(when)


def test_audit_lists_newest_first_and_filters(people, cli, monkeypatch):
    ana, marco = people
    monkeypatch.setattr(audit, "utcnow", at("2026-03-01 14:00:00"))
    audit.record("pin.failure", register="R1", failures=1)
    audit.record("line.void", user_id=ana, approved_by=marco, register="R1", note=4, sku="ESP", qty=2,
                 reason="the customer changed their mind about the whole order")
    monkeypatch.setattr(audit, "utcnow", at("2026-03-02 09:30:00"))
    audit.record("line.delete", user_id=ana, register="R2", note=5, sku="CAPP", qty=1)
    audit.record("pin.locked", register="R2", seconds=30)

    code, out, err = cli("audit")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["at", "reg", "user", "approver", "action", "detail"]
    assert actions(out) == ["pin.locked", "line.delete", "line.void", "pin.failure", "user.add", "user.add"], out
    assert all(len(line) <= 80 for line in lines), out
    void = next(ln for ln in lines if "line.void" in ln)
    assert void.split()[3:5] == ["Ana", "Marco"] and void.endswith("…")

    code, out, _ = cli("audit", "--user", "Marco")
    assert out.splitlines()[1:] and all("Marco" in ln for ln in out.splitlines()[1:])
    assert any("line.void" in ln for ln in out.splitlines())   # Marco approved it
    code, out, _ = cli("audit", "--action", "pin.")
    assert actions(out) == ["pin.locked", "pin.failure"]
    code, out, _ = cli("audit", "--action", "line.void")
    assert actions(out) == ["line.void"]
    code, out, _ = cli("audit", "--day", "2026-03-02")
    assert actions(out) == ["pin.locked", "line.delete"]
    code, out, _ = cli("audit", "--limit", "1")
    assert len(out.splitlines()) == 2 and "pin.locked" in out
    code, out, _ = cli("audit", "--user", "Ana", "--action", "line.", "--day", "2026-03-01")
    assert actions(out) == ["line.void"]
    code, out, _ = cli("audit", "--day", "2025-01-01")
    assert code == 0 and out.strip() == "no audit rows match"


def test_audit_day_is_the_store_local_day(people, cli, monkeypatch):
    monkeypatch.setenv("TZ", "America/Panama")   # UTC-5 all year
    time.tzset()
    try:
        monkeypatch.setattr(audit, "utcnow", at("2026-03-02 03:00:00"))   # 22:00 on 1 March in the store
        audit.record("note.cancel", register="R1", note=1)
        monkeypatch.setattr(audit, "utcnow", at("2026-03-02 05:30:00"))   # 00:30 on 2 March
        audit.record("line.delete", register="R1", note=2)
        _, out, _ = cli("audit", "--day", "2026-03-01", "--action", "note.")
        assert out.splitlines()[1].startswith("2026-03-01 22:00 R1") and len(out.splitlines()) == 2
        _, out, _ = cli("audit", "--day", "2026-03-02", "--action", "line.")
        assert out.splitlines()[1].startswith("2026-03-02 00:30 R1") and len(out.splitlines()) == 2
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_audit_csv_escapes_cells_like_the_other_exports(people, cli):
    ana, _ = people
    audit.record("=cmd|' /C calc'!A0", user_id=ana, register="@R1", note=1)
    code, out, err = cli("audit", "--csv", "--limit", "1")
    assert code == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["action"] == "'=cmd|' /C calc'!A0" and row["register"] == "'@R1" and row["user"] == "Ana"
    assert json.loads(row["detail"]) == {"note": 1} and len(row["hash"]) == 64
    assert list(csv.reader(io.StringIO(out)))[0] == ["id", "at", "register", "user", "approver", "action",
                                                    "detail", "hash"]


def test_audit_refuses_an_unknown_user_and_a_bad_day_in_one_line(people, cli):
    code, out, err = cli("audit", "--user", "Nobody")
    assert code == 2 and out == ""
    assert err.strip() == "tui-pos: audit: no user named 'Nobody' (the users: Ana, Marco)"
    code, _, err = cli("audit", "--day", "2026-02-30")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "YYYY-MM-DD" in err


def test_audit_verify_and_doctor_name_the_changed_row(people, cli):
    write_log(4)
    code, out, _ = cli("audit", "--verify")
    assert code == 0 and out == f"audit log: 6 rows, the chain holds; newest row 6, hash {audit.head_hash()}\n"
    code, out, _ = cli("doctor")
    assert "OK   audit log: 6 rows, the chain holds" in out
    sql("UPDATE audit_log SET detail = %s WHERE id = 4", ('{"note": 2, "qty": 5}',))
    row = stored(4)
    expected = f"audit log: row 4 ({audit.when(row.at)}, pin.failure) {BROKEN}"
    code, out, _ = cli("audit", "--verify")
    assert code == 1 and out.strip() == expected
    code, out, _ = cli("doctor")
    assert code == 1 and f"FAIL {expected}" in out.splitlines()


@pytest.mark.parametrize("remove,said", [
    ("DROP TABLE audit_log", "the audit_log table is missing"),
    ("ALTER TABLE audit_log RENAME TO audit_log_x", "the audit_log table is missing"),
    ("DELETE FROM audit_log", "the audit log is empty though 2 users exist"),
])
def test_a_log_removed_or_emptied_fails_doctor_and_verify(people, cli, remove, said):
    """Found by a fresh-eye audit: dropping or renaming the table gave a clean doctor (no audit line at all)
    and `audit --verify` ended in a traceback; emptying it said "the chain holds (empty)"."""
    sql(remove, ())
    code, out, err = cli("audit", "--verify")
    assert code == 1 and said in out and "Traceback" not in err
    code, out, _ = cli("doctor")
    assert code == 1 and any(line.startswith("FAIL audit log: " + said) for line in out.splitlines()), out


# ------------------------------------------------------------------ the anchor on paper

def test_the_z_report_prints_the_chain_head_and_shows_a_rewrite_the_chain_cannot(sales, cashier_id):
    from tui_pos.domain import dayreport
    from tui_pos.services import dayclose
    note = sales.open_note()
    sales.add_item(note, "CAPP")
    sales.pay(note)
    assert not dayclose.x_report("R1").audit_hash        # an X closes nothing: no anchor
    z = dayclose.close_day("R1", None, user_id=cashier_id)
    head = audit.chain_head()
    assert stored(head.id).action == "day.close"          # the Z's own row
    assert (z.audit_row, z.audit_hash) == (head.id, head.hash)
    again = dayclose.z_report("R1", z.number)              # kept with the Z, shown again as it was
    assert (again.audit_row, again.audit_hash) == (head.id, head.hash)
    for columns in (24, 32, 42, 48):
        lines = dayreport.as_text(dayreport.layout(z, columns, str)).splitlines()
        anchor = lines.index(next(ln for ln in lines if ln.startswith("Audit log")))
        assert lines[anchor].endswith(f"row {head.id}") and lines[anchor + 1].endswith(head.hash[:16])
        assert all(len(ln) <= columns for ln in lines)
    # someone rewrites the log from row 1 onward with the algorithm: the chain holds again...
    prev = GENESIS
    for row in list(audit.chain_rows()):
        detail = row.detail.replace('"role": "manager"', '"role": "cashier"')
        prev, digest = forge(row, prev, detail=detail)
        sql("UPDATE audit_log SET detail = %s, prev_hash = %s, hash = %s WHERE id = %s", (detail, prev, digest, row.id))
        prev = digest
    assert audit.verify_chain().broken is None
    # ...but the row the Z printed no longer has the hash on the paper
    assert stored(z.audit_row).hash[:16] != z.audit_hash[:16]

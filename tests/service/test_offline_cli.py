"""`tui-pos sync`, the doctor's offline lines and the Z's refusal (issue 24 item 5), and kill -9 of a sync in
the middle of a journal (item 3): the real command in a subprocess, on the real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tui_pos.models import AuditLog, Note, Payment, SyncApplied, db
from tui_pos.services.offline import Offline, Settings
from tui_pos.services.sales import SaleService

pytestmark = pytest.mark.postgres

SALES = 600     # six batches: the kill lands after the first commits, long before the last


@pytest.fixture
def store(pg_schema_url, tmp_path):
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services.demo import seed_demo
    database = bind(pg_schema_url)
    migrate(database)
    seed_demo(with_loyalty=True)
    replica = tmp_path / "replica.sqlite"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "{pg_schema_url}"\n[offline]\nreplica = "{replica}"\n'
                   '[store]\nregister = "R1"\n', encoding="utf-8")
    yield database, cfg, str(replica)
    db.initialize(database)
    if not database.is_closed():
        database.close()


def tui_pos(cfg, *args, wait=True):
    env = dict(os.environ, TUI_POS_CONFIG=str(cfg))
    command = [sys.executable, "-m", "tui_pos", *args]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def sold_offline(database, replica: str, count: int) -> list[str]:
    """`count` cash sales made on the replica (the server away), the last with a customer."""
    sales = SaleService("R1")
    _ = sales.register_id
    offline = Offline(Settings(True, replica, 500, 20), "R1", database)
    offline.build()
    assert offline.go_offline()
    receipts = []
    for i in range(count):
        note = sales.open_note(None)
        sales.scan(note, "ESP" if i % 2 else "CAPP")
        receipts.append(sales.pay(note).receipt_no)
    offline.go_online()
    return receipts


def test_sync_killed_mid_journal_resumes_and_never_doubles(store):
    """Issue 24: "kill -9 of the register ... while syncing": the replay applies each sale once."""
    database, cfg, replica = store
    receipts = sold_offline(database, replica, SALES)
    assert "journal: 600 pending" in tui_pos(cfg, "sync").stdout
    refused = tui_pos(cfg, "report", "z")
    assert refused.returncode == 2 and "600 sales made offline on this register are not on the server" in refused.stderr
    child = tui_pos(cfg, "sync", "--now", wait=False)
    deadline = time.monotonic() + 60
    while SyncApplied.select().count() < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)                      # kill -9 in the middle of the journal
    child.wait()
    sent_before = SyncApplied.select().count()
    assert 0 < sent_before < SALES, sent_before
    done = tui_pos(cfg, "sync", "--now")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "journal: 0 pending" in done.stdout
    assert Note.select().where(Note.uid.is_null(False)).count() == SALES
    for receipt in receipts[:5] + receipts[-5:]:
        note = Note.get(Note.receipt_no == receipt)
        assert Payment.select().where(Payment.note == note).count() == 1
    assert sorted(n.receipt_no for n in Note.select().where(Note.uid.is_null(False))) == sorted(receipts)
    doctor = tui_pos(cfg, "doctor")
    assert "offline journal" in doctor.stdout and "nothing waiting" in doctor.stdout, doctor.stdout


def test_a_manager_may_close_the_day_with_unsent_sales_and_it_is_audited(store):
    database, cfg, replica = store
    sold_offline(database, replica, 2)
    doctor = tui_pos(cfg, "doctor")
    assert "2 entries not on the server (2 sales/returns)" in doctor.stdout, doctor.stdout
    forced = tui_pos(cfg, "report", "z", "--force")
    assert forced.returncode == 0, forced.stderr
    assert AuditLog.select().where(AuditLog.action == "day.close_unsynced").count() == 1

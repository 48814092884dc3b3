"""End to end (issue 24): the installed `tui-pos` on PostgreSQL in a real 80x24 terminal; the network to the
server cut by a TCP relay mid-note; the register sells OFFLINE, is killed with kill -9 and restarted while the
server is still away (it starts offline), then the server comes back and the sales reach it once."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

TUI_POS = Path(sys.executable).with_name("tui-pos")
SOCKET = "tuipos-offline-e2e"


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=check)


def screen():
    return tmux("capture-pane", "-p", "-t", "pos").stdout


def wait_for(text, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in screen():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen()}")


def wait_gone(text, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text not in screen():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} stayed; screen was:\n{screen()}")


def keys(*k):
    tmux("send-keys", "-t", "pos", *k)


@pytest.fixture
def register(pg_proxy_url, tmp_path):
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required in CI")
        pytest.skip("tmux not installed")
    url, proxy = pg_proxy_url
    replica = tmp_path / "replica.sqlite"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[printer]\nkind = "file"\npath = "{tmp_path / "printer.bin"}"\n'
                      f'[offline]\nreplica = "{replica}"\nrefresh_every = 1\n', encoding="utf-8")
    env = dict(os.environ, TUI_POS_CONFIG=str(config))
    products = tmp_path / "products.csv"
    products.write_text("barcode,sku,name,section,price,tax_rate,points,points_cost\n"
                        "4006381333931,ESP,Espresso,Coffee,1.50,7,,\n"
                        "7451000000010,CROI,Butter croissant,Bakery,1.75,7,,\n")
    for args, stdin in [(["init"], ""), (["import", "products", str(products)], ""),
                        (["user", "add", "Ana", "--role", "cashier"], "1111\n"),
                        (["user", "add", "Marco", "--role", "manager"], "2222\n")]:
        done = subprocess.run([str(TUI_POS), *args], input=stdin, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr

    def start():
        tmux("kill-server", check=False)
        tmux("new-session", "-d", "-s", "pos", "-x", "80", "-y", "24", "-e", f"TUI_POS_CONFIG={config}",
             "-e", f"XDG_DATA_HOME={os.environ['XDG_DATA_HOME']}", "env", "TERM=xterm-256color", str(TUI_POS))
    start()
    yield start, proxy, replica, env, url
    tmux("kill-server", check=False)


def test_offline_in_a_real_terminal_through_kill_and_restart(register):
    start, proxy, replica, env, url = register
    wait_for("Type your PIN")
    keys("1111", "Enter")
    wait_for("scan or type a code")
    deadline = time.monotonic() + 20
    while not replica.exists() and time.monotonic() < deadline:     # built at start, in a worker
        time.sleep(0.1)
    keys("4006381333931", "Enter")
    wait_for("Espresso")
    proxy.cut()                                  # the network to the server goes, mid-note
    keys("CROI", "Enter")
    wait_for("OFFLINE: 0 sales to send")
    wait_for("Butter croissant")
    keys("F10")
    wait_for("Payment")
    keys("Enter")
    wait_for("R1-000001")
    wait_for("OFFLINE: 1 sale to send")
    pid = int(tmux("list-panes", "-t", "pos", "-F", "#{pane_pid}").stdout.split()[0])
    os.kill(pid, signal.SIGKILL)                 # kill -9 while offline
    time.sleep(0.3)
    start()                                      # restarted, the server still away: it starts offline
    wait_for("Type your PIN")
    keys("1111", "Enter")
    wait_for("OFFLINE: 1 sale to send")
    keys("CROI", "Enter")
    wait_for("Butter croissant")
    keys("F10")
    wait_for("Payment")
    keys("Enter")
    wait_for("R1-000002")
    wait_for("OFFLINE: 2 sales to send")
    proxy.start()                                # the server is back
    wait_gone("OFFLINE", timeout=20)
    done = subprocess.run([str(TUI_POS), "sync"], capture_output=True, text=True, env=env)
    assert "journal: 0 pending" in done.stdout, done.stdout + done.stderr
    from tui_pos.models import Note, Payment, db
    from tui_pos.models.db import bind
    bind(url)
    try:
        paid = {n.receipt_no: n for n in Note.select().where(Note.status == "paid")}
        assert sorted(paid) == ["R1-000001", "R1-000002"] and all(n.uid for n in paid.values())
        assert [Payment.select().where(Payment.note == n).count() for n in paid.values()] == [1, 1]
    finally:
        db.close()

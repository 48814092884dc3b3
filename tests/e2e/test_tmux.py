"""End to end: the installed `tui-pos` in a real terminal (tmux), a sale rung up and paid."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TUI_POS = Path(sys.executable).with_name("tui-pos")


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-L", "tuipos-e2e", *args], capture_output=True, text=True, check=check)


def screen():
    return tmux("capture-pane", "-p", "-t", "pos").stdout


def wait_for(text, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in screen():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen()}")


@pytest.fixture
def terminal(tmp_path):
    yield from start(tmp_path, "xterm-256color", 100, 30)


@pytest.fixture
def console(tmp_path):
    """The register as it runs on a thin client's Linux console: TERM=linux, 80x25."""
    yield from start(tmp_path, "linux", 80, 25)


def start(tmp_path, term, width, height):
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is required in CI")
        pytest.skip("tmux not installed")
    assert TUI_POS.exists(), "install the package first (make test does)"
    env_file = tmp_path / "config.toml"
    printer = tmp_path / "printer.bin"
    env_file.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "pos.db"}"\n'
                        f'[printer]\nkind = "file"\npath = "{printer}"\n'
                        '[receipt]\nfooter = ["See you soon"]\n')
    env = dict(os.environ, TUI_POS_CONFIG=str(env_file), TERM=term)
    products = tmp_path / "products.csv"
    products.write_text("barcode,sku,name,section,price,tax_rate,points,points_cost\n"
                        "4006381333931,ESP,Espresso,Coffee,1.50,7,,\n"
                        "7451000000010,CROI,Butter croissant,Bakery,1.75,7,,\n")
    for args, stdin in [(["init"], ""), (["import", "products", str(products)], ""),
                        (["user", "add", "Ana", "--role", "cashier"], "1111\n"),
                        (["user", "add", "Marco", "--role", "manager"], "2222\n")]:
        done = subprocess.run([str(TUI_POS), *args], input=stdin, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
    tmux("kill-server", check=False)
    tmux("new-session", "-d", "-s", "pos", "-x", str(width), "-y", str(height), "-e", f"TUI_POS_CONFIG={env_file}",
         "-e", f"XDG_DATA_HOME={os.environ['XDG_DATA_HOME']}", "env", f"TERM={term}", str(TUI_POS))
    yield printer
    tmux("kill-server", check=False)


def wait_gone(text, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text not in screen():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} stayed; screen was:\n{screen()}")


def keys(*k):
    tmux("send-keys", "-t", "pos", *k)


def test_ring_up_and_pay_in_a_real_terminal(terminal):
    wait_for("Type your PIN")
    keys("1111", "Enter")
    wait_for("scan or type a code")
    keys("4006381333931", "Enter")
    wait_for("Espresso")
    keys("2*CROI", "Enter")
    wait_for("Butter croissant")
    keys("4006381333931", "Enter")
    wait_for("$6.50")          # 2 x 1.50 + 2 x 1.75
    keys("F10")
    wait_for("Payment")
    keys("10", "Enter")
    wait_for("R1-000001")
    wait_for("Change $3.50")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (terminal.exists() and terminal.read_bytes().endswith(b"\x1dV\x00")):
        time.sleep(0.1)
    data = terminal.read_bytes()
    assert b"Espresso" in data and b"Butter croissant" in data and b"TOTAL" in data and b"6.50" in data
    assert b"{BR1-000001" in data and b"See you soon" in data
    # quitting asks for a manager PIN
    keys("C-q")
    wait_for("Quit tui-pos")
    keys("2222", "Enter")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and tmux("has-session", "-t", "pos", check=False).returncode == 0:
        time.sleep(0.1)
    assert tmux("has-session", "-t", "pos", check=False).returncode != 0, screen()


def test_the_linux_console_at_80x25_draws_only_what_its_fonts_have(console):
    from tui_pos.widgets.console import unsupported
    wait_for("Type your PIN")
    assert not unsupported(screen()), screen()
    keys("1111", "Enter")
    wait_for("scan or type a code")
    keys("4006381333931", "Enter")
    wait_for("Espresso")
    keys("2*CROI", "Enter")
    wait_for("$5.00")
    sale = screen()
    assert len(sale.splitlines()[0]) <= 80 and "Butter croissant" in sale and "TOTAL" in sale
    assert not unsupported(sale), sale
    for key, title in (("F1", "Quit (manager PIN)"), ("F2", "Up/Down: pick"), ("F10", "Up/Down: tender"),
                       ("C-e", "Close of day")):
        keys(key)
        wait_for(title)
        assert not unsupported(screen()), screen()
        keys("Escape")
        wait_gone(title)
    # resizing keeps the note and what was being typed
    keys("123")
    tmux("resize-window", "-t", "pos", "-x", "120", "-y", "40")
    wait_for("Butter croissant")
    tmux("resize-window", "-t", "pos", "-x", "80", "-y", "25")
    wait_for("│  123 ")                                      # what was being typed is still there
    assert "Butter croissant" in screen()
    # (a key bound by the field, like Backspace, is applied after printable keys that arrive in the
    # same read, so a person-paced pause goes between them)
    keys("BSpace", "BSpace", "BSpace")
    time.sleep(0.3)
    keys("ESP", "Enter")
    wait_for("$6.50")
    after = screen()
    assert "Espresso" in after and "Butter croissant" in after and not unsupported(after), after

"""PIN lockout (issue 28, item 4): ten wrong PINs took 0.03 s each, then the right one opened."""

import datetime as dt
import subprocess
import sys

import pytest

from tui_pos.models import AuditLog, PinLock, utcnow
from tui_pos.services import users


@pytest.fixture
def lockout(demo):
    users.configure_lockout("R1", 5)
    yield
    users.configure_lockout("", 5)


def test_five_wrong_pins_lock_the_prompts_30_s_doubling_up_to_15_minutes(lockout):
    for _ in range(4):
        assert users.authenticate("0000") is None
    assert users.authenticate("1111").name == "Ana"                 # under the limit: the right PIN opens ...
    with pytest.raises(users.PinLocked, match="locked for 30 s"):   # ... but does not reset the count: the 5th
        users.authenticate("0000")                                   # wrong PIN locks, and says so at once
    with pytest.raises(users.PinLocked, match="locked for") as locked:
        users.authenticate("1111")                                   # even the right PIN waits
    assert 25 <= locked.value.seconds <= 30
    PinLock.update(locked_until=utcnow() - dt.timedelta(seconds=1)).execute()      # the 30 s pass
    with pytest.raises(users.PinLocked, match="locked for 60 s"):
        users.authenticate("0000")                                   # one more wrong: 60 s
    assert (PinLock.get().locked_until - utcnow()).total_seconds() > 55
    assert [users.lock_seconds(n, 5) for n in (4, 5, 6, 7, 10, 20)] == [0, 30, 60, 120, 900, 900]
    actions = [a.action for a in AuditLog.select().where(AuditLog.action.startswith("pin."))]
    assert actions.count("pin.failure") == 6 and actions.count("pin.locked") == 2
    assert users.unlock("R1") == 1 and users.authenticate("1111").name == "Ana"


def test_a_right_pin_between_guesses_does_not_buy_more_guesses(lockout):
    """Found by a fresh-eye audit: Ana's own PIN typed into a manager prompt after 4 wrong ones reset the
    count, so she could guess Marco's PIN without end."""
    for _round in range(2):
        for _ in range(2):
            assert users.authenticate("0000") is None
        assert users.approver_for("1111", "drawer") is None       # her own PIN: not a manager's, no reset
    with pytest.raises(users.PinLocked):
        users.authenticate("0000")


def test_the_count_of_wrong_pins_expires_after_a_quarter_of_an_hour(lockout):
    for _ in range(4):
        assert users.authenticate("0000") is None
    PinLock.update(last_failure=utcnow() - dt.timedelta(seconds=users.FORGET_AFTER + 1)).execute()
    assert users.authenticate("0000") is None                       # counted from 1 again: no lock
    assert PinLock.get().failures == 1


def test_the_lock_survives_a_restart_and_the_command_line_lifts_it(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "pos.db"}"\n')
    run = lambda *a, stdin="": subprocess.run([sys.executable, "-m", "tui_pos", *a], input=stdin,  # noqa: E731
                                              capture_output=True, text=True, timeout=60,
                                              env={**__import__("os").environ, "TUI_POS_CONFIG": str(cfg)})
    assert run("init").returncode == 0
    assert run("user", "add", "Ana", "--role", "cashier", stdin="1111\n").returncode == 0
    code = ("from tui_pos.config import load\nfrom tui_pos.bootstrap import build\n"
            "from tui_pos.services import users\nbuild(load(None))\n"
            "import sys\n"
            "try:\n    print(users.authenticate(sys.argv[1]))\nexcept users.PinLocked as e:\n    print('LOCKED')\n")
    check = lambda pin: subprocess.run([sys.executable, "-c", code, pin], capture_output=True, text=True,  # noqa: E731
                                       timeout=60, env={**__import__("os").environ, "TUI_POS_CONFIG": str(cfg)})
    for _ in range(4):
        assert "None" in check("0000").stdout
    assert "LOCKED" in check("0000").stdout                          # the 5th wrong PIN locks
    assert "LOCKED" in check("1111").stdout                          # a new process: still locked
    done = run("user", "unlock")
    assert done.returncode == 0 and "unlocked" in done.stdout
    assert "Ana" in check("1111").stdout

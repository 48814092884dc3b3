"""The PIN check: a lockout never slows the right PIN (issue 28 item 4).

    python bench/pin.py      (BENCH_ROUNDS, default 10; BENCH_USERS, default 3)

`users.authenticate` on a SQLite file (WAL, synchronous=FULL) with BENCH_USERS
active users, the right PIN being the last one's (the worst case: one scrypt
check per user, N=2^14, r=8), timed BENCH_ROUNDS times:

1. no lock: the register's PIN count at zero;
2. after 4 wrong PINs in a row on this register (one short of `[security]
   pin_attempts = 5`): the right PIN also resets the count;
3. while another register (R2) is locked: its lock is its own row and never
   read by R1's prompts.

Printed with, for reference, a wrong PIN (every user checked, the failure
counted and audited) and a refusal on the locked register (no scrypt at all).

Then the same three with scrypt taken out (`users.verify_pin` swapped for a
plain comparison, BENCH_FAST_ROUNDS times, default 300): what the lockout
itself adds to the right PIN, the lock's row read (and, after wrong PINs, its
count reset), free of scrypt's noise on a busy machine.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
FAST_ROUNDS = int(os.environ.get("BENCH_FAST_ROUNDS", "300"))
USERS = int(os.environ.get("BENCH_USERS", "3"))
ATTEMPTS = 5


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def line(name: str, samples: list[float], base: float | None = None) -> str:
    median = statistics.median(samples)
    ratio = f"   {median / base:4.2f}x no lock" if base else ""
    return (f"{name:<37} median {median * 1000:7.2f} ms   worst {max(samples) * 1000:7.2f} ms"
            f"   ({len(samples)} checks){ratio}")


def scenarios(sign_in, right: str, wrong: str, rounds: int):
    """(no lock, after 4 wrong, R2 locked, wrong PINs, refusals on R2): seconds per check."""
    from tui_pos.services import users
    no_lock, after_four, other_locked, wrong_pins, refusals = [], [], [], [], []
    for _ in range(rounds):
        users.unlock("R1")                                        # a right PIN no longer resets the count
        no_lock.append(timed(lambda: sign_in("R1", right)))
        for _ in range(ATTEMPTS - 1):
            wrong_pins.append(timed(lambda: sign_in("R1", wrong)))
        after_four.append(timed(lambda: sign_in("R1", right)))   # counted 4 wrong: the right one still opens
        assert sign_in("R1", right).name == f"user{USERS - 1}"
        users.unlock("R2")
        for _ in range(ATTEMPTS):
            sign_in("R2", wrong)                                  # R2's prompts lock (30 s)
        assert sign_in("R2", right) == "locked"
        other_locked.append(timed(lambda: sign_in("R1", right)))
        refusals.append(timed(lambda: sign_in("R2", right)))
    return no_lock, after_four, other_locked, wrong_pins, refusals


def main() -> None:
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    from tui_pos.services import users

    root = Path(tempfile.mkdtemp(prefix="tui-pos-pin-"))
    database = bind(f"sqlite:///{root / 'pin.db'}")
    database.connect()
    migrate(database)
    pins = [f"{(i + 1) * 1111 % 100000:04d}" for i in range(USERS)]   # 1111, 2222 ... 9999, 11110 ...
    for i, pin in enumerate(pins):
        users.add_user(f"user{i}", "manager" if i == 0 else "cashier", pin)
    right, wrong = pins[-1], "0000"
    assert wrong not in pins

    def sign_in(place: str, pin: str):
        users.configure_lockout(place, ATTEMPTS)
        try:
            return users.authenticate(pin)
        except users.PinLocked:
            return "locked"

    no_lock, after_four, other_locked, wrong_pins, refusals = scenarios(sign_in, right, wrong, ROUNDS)
    base = statistics.median(no_lock)
    print(f"== the right PIN ({USERS} users, the last one's PIN: {USERS} scrypt checks; SQLite, WAL, "
          "synchronous=FULL) ==")
    print(line("no lock", no_lock))
    print(line("after 4 wrong PINs on this register", after_four, base))
    print(line("while register R2 is locked", other_locked, base))
    print("-- for reference --")
    print(line("a wrong PIN (counted, audited)", wrong_pins, base))
    print(line("a PIN on the locked register", refusals, base))

    from tui_pos.models import User
    whole = base
    known = {u.pin_hash: pin for u, pin in zip(User.select().order_by(User.id), pins)}
    scrypt = users.verify_pin
    users.verify_pin = lambda pin, stored: known[stored] == pin   # the bench's own swap: scrypt out
    try:
        no_lock, after_four, other_locked, _, _ = scenarios(sign_in, right, wrong, FAST_ROUNDS)
    finally:
        users.verify_pin = scrypt
    print("== the lockout's own part of the right PIN (scrypt taken out) ==")
    for name, samples in (("no lock", no_lock), ("after 4 wrong PINs", after_four),
                          ("while register R2 is locked", other_locked)):
        extra = statistics.median(samples) - statistics.median(no_lock)
        print(line(name, samples) + (f"   {extra * 1000:+.2f} ms, {extra / whole:.1%} of a right PIN"
                                     if samples is not no_lock else ""))
    database.close()


if __name__ == "__main__":
    main()

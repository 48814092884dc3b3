"""Customer benchmarks (`make bench`, or `python bench/customers.py`).

1. generate N customers (default 1,000,000; BENCH_CUSTOMERS) straight into SQLite and
   time `tui-pos import customers` on a CSV of BENCH_IMPORT rows (default 20,000);
2. lookup latency per keystroke in the service, for a full phone typed digit by
   digit, a 4-digit suffix and a name prefix (target p99 <= 5 ms);
3. key to results on screen in a real pty (target <= 30 ms).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ptyrun import PtyApp  # noqa: E402

N = int(os.environ.get("BENCH_CUSTOMERS", "1000000"))
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT", "20000"))
FIRST = ["Ana", "José", "María", "Luis", "Carmen", "Pedro", "Rosa", "Jorge", "Elena", "Carlos", "Lucía", "Iván",
         "Sofía", "Diego", "Marta", "Raúl", "Julia", "Tomás", "Inés", "Pablo"]
LAST = ["Pérez", "González", "Rodríguez", "Castillo", "Batista", "Herrera", "Sánchez", "Quintero", "Vega", "Ríos",
        "Núñez", "Moreno", "Ortega", "Delgado", "Castro", "Méndez", "Aguilar", "Araúz", "Samudio", "Pinzón"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def phone(i: int) -> str:
    return f"6{i:07d}"


def name(i: int) -> str:
    return f"{FIRST[i % 20]} {LAST[(i // 20) % 20]} {LAST[(i // 400) % 20]}"


def generate(db_path: Path) -> float:
    """N customers with phones, reversed phones and name words, in bulk."""
    from tui_pos.domain.text import search_key
    from tui_pos.models.db import bind
    from tui_pos.models.migrations import migrate
    database = bind(f"sqlite:///{db_path}")
    migrate(database)
    from tui_pos.services import users
    users.add_user("Bench", "manager", "1234")   # the register opens only with a user (issue 28 item 10)
    t0 = time.perf_counter()
    conn = database.connection()
    conn.execute("PRAGMA synchronous = NORMAL")  # generation only; the register runs FULL
    batch = 20000
    now = "2026-11-23 00:00:00"
    for start in range(0, N, batch):
        rows, words = [], []
        for i in range(start, min(N, start + batch)):
            p = phone(i)
            rows.append((i + 1, f"B{i:07d}", name(i), f"+507{p}", p[::-1], now))
            for w in set(search_key(name(i)).split()):
                words.append((w, i + 1))
        with database.atomic():
            conn.executemany("INSERT INTO customer (id, code, name, phone, phone_rev, created_at, contact, fiscal_name,"
                             " dv, ruc_type, nt_person, payment_status, status, sms_consent, email_consent, notes,"
                             " points_balance, points_earned, points_redeemed, visits, marketing_opt_out,"
                             " invite_declined)"
                             " VALUES (?, ?, ?, ?, ?, ?, '', '', '', '', '', 0, 'open', 0, 0, '', 0, 0, 0, 0, 0, 0)",
                             rows)
            conn.executemany("INSERT INTO customer_word (word, customer_id) VALUES (?, ?)", words)
    took = time.perf_counter() - t0
    conn.execute("PRAGMA synchronous = FULL")
    database.close()
    return took


def import_csv(root: Path) -> float:
    csv = root / "import.csv"
    with csv.open("w", encoding="utf-8") as f:
        f.write("code,name,phone,mobile,email,ruc,dv,ruc_type,fiscal_name,group,rate,card,payment_status,status,"
                "birthday,points\n")
        for i in range(IMPORT_ROWS):
            f.write(f"I{i:07d},{name(i)},+507 6{9000000 + i:07d},,,,,,,,,,0,open,,\n")
    cfg = root / "import.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{root / "import.db"}"\n')
    env = dict(os.environ, TUI_POS_CONFIG=str(cfg), XDG_DATA_HOME=str(root / "xdg"))
    made = subprocess.run([sys.executable, "-m", "tui_pos", "init"], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr   # only `tui-pos init` makes a database
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tui_pos", "import", "customers", str(csv)], env=env,
                          capture_output=True, text=True)
    took = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr
    return took


def service_lookups(db_path: Path) -> dict[str, list[float]]:
    from tui_pos.models.db import bind
    from tui_pos.services import customers
    database = bind(f"sqlite:///{db_path}")
    rng = random.Random(7)
    times: dict[str, list[float]] = {"full phone": [], "4-digit suffix": [], "name prefix": []}
    for _ in range(60):
        i = rng.randrange(N)
        typed = f"{phone(i)[:4]}-{phone(i)[4:]}"
        kinds = [("full phone", typed), ("4-digit suffix", phone(i)[-4:]), ("name prefix", name(i).lower()[:12])]
        for kind, text in kinds:
            for k in range(1, len(text) + 1):   # every keystroke runs a lookup
                t0 = time.perf_counter()
                customers.lookup(text[:k], region="PA")
                times[kind].append(time.perf_counter() - t0)
        found = customers.lookup(typed, region="PA").customers
        assert found and found[0].code == f"B{i:07d}", (typed, found)
    database.close()
    return times


def screen_lookups(db_path: Path, root: Path) -> list[float]:
    cfg = root / "screen.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db_path}"\n')
    app = PtyApp([sys.executable, "-m", "tui_pos"], {"TUI_POS_CONFIG": str(cfg), "XDG_DATA_HOME": str(root / "xdg")})
    rng = random.Random(11)
    times = []
    try:
        app.read_until(b"Type your PIN")   # the register opens on its PIN prompt
        app.drain(0.2)
        offset = len(app.buffer)
        app.write(b"1234\r")
        app.read_until(b"scan or type a code", since=offset)
        app.drain(0.3)
        app.write(b"\x1bOQ")  # F2
        app.read_until(b"group:X, tier:X")      # the F2 field's hint: the lookup is open
        app.drain(0.3)
        for _ in range(30):
            i = rng.randrange(N)
            for ch in phone(i)[:-1]:
                app.write(ch.encode())
                time.sleep(0.02)
            app.drain(0.2)
            offset = len(app.buffer)
            app.write(phone(i)[-1].encode())
            times.append(app.read_until(f"B{i:07d}".encode(), since=offset))
            app.drain(0.1)
            app.write(b"\x15")  # Ctrl+U clears the field
            app.drain(0.2)
    finally:
        app.close()
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(root / "xdg")
        db_path = root / "customers.db"
        took = generate(db_path)
        print(f"== {N:,} customers ==")
        print(f"generated in bulk: {took:.1f} s ({os.path.getsize(db_path) / 2**20:.0f} MiB)")
        took = import_csv(root)
        print(f"`tui-pos import customers` of {IMPORT_ROWS:,} rows: {took:.1f} s "
              f"({IMPORT_ROWS / took:,.0f} rows/s)")
        times = service_lookups(db_path)
        print("\n== lookup per keystroke, in the service (target p99 <= 5 ms) ==")
        for kind, values in times.items():
            print(f"{kind:>15}: {len(values)} lookups  median {statistics.median(values) * 1000:6.2f} ms  "
                  f"p99 {pct(values, 99) * 1000:6.2f} ms  max {max(values) * 1000:6.2f} ms")
        shown = screen_lookups(db_path, root)
        print("\n== last keystroke of a phone to its customer on screen, real pty (target <= 30 ms) ==")
        print(f"{len(shown)} lookups: median {statistics.median(shown) * 1000:.1f} ms  "
              f"p99 {pct(shown, 99) * 1000:.1f} ms")


if __name__ == "__main__":
    main()

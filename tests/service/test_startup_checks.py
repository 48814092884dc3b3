"""Start-up checks: issue 28 item 10, "Config and start-up", and `[security] pin_length` (item 4).

Issue 28: "Of 39 malformed configs most got one clear line naming the key. Not these: `currency = "XXY"`
and an unknown `[ui] theme` are accepted silently (check them with Babel and the theme list); a data
folder that is a file ends in a `NotADirectoryError` traceback; a database with no schema opens the
register, which fails at the first sale ("OperationalError; logged") instead of saying `run tui-pos init`
at start; `doctor` says OK for a backup folder it cannot write or a file printer in a missing folder.
**A register with no users sells without a PIN**: `url = "sqlite://"` opens an in-memory database, and a
SQLite path in a missing folder creates an empty one, each opening straight onto the sale screen. An
in-memory URL is refused; only `tui-pos init` creates a database; a register whose database has no user
says how to add the first one and does not sell (the demo aside)."

Every refusal: one line on standard error, a non-zero exit, no traceback, nothing created. The register is
started for real (`python -m tui_pos`, no command): each case here stops it before its first screen.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tui_pos import config


def run(args, tmp_path, config_text=None, stdin="", **env):
    environ = dict(os.environ, **env)
    if config_text is not None:
        cfg = tmp_path / "config.toml"
        cfg.write_text(config_text)
        environ["TUI_POS_CONFIG"] = str(cfg)
    return subprocess.run([sys.executable, "-m", "tui_pos", *args], input=stdin, capture_output=True, text=True,
                          cwd=tmp_path, env=environ, timeout=120)


def refused(out, code=None) -> str:
    """The one line a refusal prints; asserts the rest of the contract."""
    assert out.returncode != 0 and (code is None or out.returncode == code), (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tui-pos: "), out.stderr
    return lines[0]


def db_config(path, extra=""):
    return f'[database]\nurl = "sqlite:///{path}"\n' + extra


def tables(path):
    with sqlite3.connect(path) as con:
        return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


# ------------------------------------------------------------------ (a) currency, (b) theme

def test_an_unknown_currency_is_refused_naming_the_key(tmp_path):
    line = refused(run([], tmp_path, '[store]\ncurrency = "XXY"\n'), 2)
    assert "store.currency = 'XXY': expected a three-letter ISO 4217 currency code" in line
    assert "XXY is not one" in line
    cfg = tmp_path / "ok.toml"
    cfg.write_text('[store]\ncurrency = "pab"\n')
    assert config.load(str(cfg)).store.currency == "PAB"     # Babel knows it; written in capitals


def test_an_unknown_theme_is_refused_listing_the_themes(tmp_path):
    line = refused(run(["doctor"], tmp_path, '[ui]\ntheme = "nope"\n'), 2)
    assert "ui.theme = 'nope': expected \"auto\", \"console\" or one of the Textual themes:" in line
    assert "textual-dark" in line and "nord" in line
    for theme in ("auto", "console", "nord", "textual-light"):
        assert config.from_dict({"ui": {"theme": theme}}).ui.theme == theme


# ------------------------------------------------------------------ (c) a data folder that is a file

@pytest.mark.parametrize("args", [[], ["doctor"], ["init"]])
def test_a_data_folder_that_is_a_file_is_one_line(tmp_path, args):
    (tmp_path / "data").write_text("not a folder")
    line = refused(run(args, tmp_path, "", XDG_DATA_HOME=str(tmp_path / "data")), 2)
    assert line == (f"tui-pos: the data folder {tmp_path / 'data' / 'tui-pos'} cannot be made "
                    f"({tmp_path / 'data'} is a file, not a folder): move that away, or set XDG_DATA_HOME "
                    "to a folder this user can write")


def test_a_log_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "data" / "tui-pos" / "tui-pos.log").mkdir(parents=True)   # a folder where the log goes
    line = refused(run(["doctor"], tmp_path, "", XDG_DATA_HOME=str(tmp_path / "data")), 2)
    assert line == (f"tui-pos: cannot write the log {tmp_path / 'data' / 'tui-pos' / 'tui-pos.log'} (Is a "
                    "directory): move that away, or set XDG_DATA_HOME to a folder this user can write")


def test_a_database_folder_with_a_file_in_its_way(tmp_path):
    (tmp_path / "store").write_text("a file")
    where = tmp_path / "store" / "pos.db"
    line = refused(run(["init"], tmp_path, db_config(where)), 1)
    assert line == (f"tui-pos: cannot make the folder {tmp_path / 'store'} for the database "
                    f"({tmp_path / 'store'} is a file, not a folder)")
    line = refused(run([], tmp_path, db_config(tmp_path)), 1)    # the URL names a folder
    assert f"{tmp_path} is a folder, not a database file" in line


# ------------------------------------------------------------------ (d) a database with no schema

def test_an_empty_sqlite_file_is_refused_at_start_and_left_empty(tmp_path):
    where = tmp_path / "empty.db"
    where.touch()
    cfg = db_config(where)
    for args in ([], ["report", "x"], ["user", "add", "Ana", "--role", "manager"]):
        line = refused(run(args, tmp_path, cfg, stdin="1234\n"), 1)
        assert f"{where}: the database has no tui-pos tables yet: run `tui-pos init`" in line
    assert tables(where) == []                                   # never migrated behind the user's back
    assert run(["init"], tmp_path, cfg).returncode == 0
    assert "schema_migrations" in tables(where)


@pytest.mark.postgres
def test_an_empty_postgresql_schema_is_refused_at_start(pg_schema_url, tmp_path):
    line = refused(run([], tmp_path, f'[database]\nurl = "{pg_schema_url}"\n'), 1)
    assert line.startswith("tui-pos: cannot start: ") and "has no tui-pos tables yet: run `tui-pos init`" in line


# ------------------------------------------------------------------ (e) the doctor

def test_the_doctor_fails_a_backup_folder_it_cannot_write(tmp_path):
    where = tmp_path / "pos.db"
    assert run(["init"], tmp_path, db_config(where)).returncode == 0
    (tmp_path / "afile").write_text("x")
    cases = {
        str(tmp_path / "afile"): f"FAIL backup dir: {tmp_path / 'afile'} is a file, not a folder",
        str(tmp_path / "afile" / "daily"): f"FAIL backup dir: {tmp_path / 'afile'} is a file, not a folder",
        "/proc/tui-pos-daily": "FAIL backup dir: /proc cannot be written by this user",   # even as root
        str(tmp_path / "later" / "daily"): "WARN backup dir: ",                           # made at the first Z
        str(tmp_path): "OK   backup dir: ",
    }
    for folder, said in cases.items():
        out = run(["doctor"], tmp_path, db_config(where, f'[backup]\ndir = "{folder}"\n'))
        line = next(ln for ln in out.stdout.splitlines() if "backup dir" in ln)
        assert line.startswith(said), line
        assert out.returncode == (1 if said.startswith("FAIL") else 0), out.stdout
    assert not (tmp_path / "later").exists()                     # the doctor looked, made nothing


def test_the_doctor_fails_a_file_printer_in_a_missing_folder(tmp_path):
    where = tmp_path / "pos.db"
    assert run(["init"], tmp_path, db_config(where)).returncode == 0
    missing = tmp_path / "nowhere" / "lp0"
    out = run(["doctor"], tmp_path, db_config(where, f'[printer]\nkind = "file"\npath = "{missing}"\n'))
    assert out.returncode == 1
    assert (f"FAIL printer: file {missing}: the folder {tmp_path / 'nowhere'} does not exist, so no receipt "
            "can be written; fix [printer] path") in out.stdout
    there = tmp_path / "lp0"
    out = run(["doctor"], tmp_path, db_config(where, f'[printer]\nkind = "file"\npath = "{there}"\n'))
    assert "OK   printer: file " in out.stdout and out.returncode == 0


# ------------------------------------------------------------------ (f) in-memory URLs, missing databases

@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&cache=shared",
                                 "sqlite:///"])
def test_an_in_memory_database_is_refused(tmp_path, url):
    line = refused(run([], tmp_path, f'[database]\nurl = "{url}"\n'), 2)
    assert f"database.url = '{url}': expected a SQLite file, sqlite:///PATH (an in-memory database would lose" in line


def test_only_init_creates_a_database(tmp_path):
    where = tmp_path / "missing" / "pos.db"
    cfg = db_config(where)
    for args in ([], ["doctor"], ["report", "x"], ["user", "add", "Ana", "--role", "manager"], ["backup", "b.db"],
                 ["--support"]):
        out = run(args, tmp_path, cfg, stdin="1234\n")
        assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
        assert f"no database at {where}: run `tui-pos init`" in out.stdout + out.stderr, (args, out.stderr)
        assert not (tmp_path / "missing").exists(), args         # nothing created, not even the folder
    out = run(["init"], tmp_path, cfg)
    assert out.returncode == 0 and where.is_file()               # init makes the folder and the database


# ------------------------------------------------------------------ (g) no users

def test_a_register_without_users_says_how_to_add_the_first_and_does_not_open(tmp_path):
    where = tmp_path / "pos.db"
    cfg = db_config(where)
    assert run(["init"], tmp_path, cfg).returncode == 0
    line = refused(run([], tmp_path, cfg), 1)
    assert line == (f"tui-pos: cannot start: {where} has no users, and nobody could sign in: add the first one "
                    "with `tui-pos user add NAME --role manager` (it asks for the PIN), then start the register")
    with sqlite3.connect(where) as con:
        assert con.execute("SELECT COUNT(*) FROM register").fetchone()[0] == 0   # nothing written
    doctor = run(["doctor"], tmp_path, cfg)
    assert "WARN users: none: the register does not open until one is added" in doctor.stdout
    assert run(["user", "add", "Ana", "--role", "manager"], tmp_path, cfg, stdin="1234\n").returncode == 0
    from tui_pos.bootstrap import build
    runtime = build(config.from_dict({"database": {"url": f"sqlite:///{where}"}}))   # now it opens
    assert runtime.sales.register_code == "R1"


def test_the_demo_makes_its_own_database_and_users(tmp_path):
    from tui_pos.bootstrap import NoUsers, build
    from tui_pos.services import users
    runtime = build(config.from_dict({}), demo=True)
    assert runtime.demo and users.users_exist()
    with pytest.raises(NoUsers):   # the same register without --demo: its own database, none there yet
        empty = tmp_path / "pos.db"
        from tui_pos.bootstrap import open_database
        open_database(config.from_dict({"database": {"url": f"sqlite:///{empty}"}}), create=True)
        build(config.from_dict({"database": {"url": f"sqlite:///{empty}"}}))


# ------------------------------------------------------------------ [security] pin_length

def test_pin_length_is_the_fewest_digits_of_a_new_pin(tmp_path):
    where = tmp_path / "pos.db"
    cfg = db_config(where, "[security]\npin_length = 6\n")
    assert run(["init"], tmp_path, cfg).returncode == 0
    for pin in ("12345", "123456789", "12a456", "１２３４５６", ""):
        line = refused(run(["user", "add", "Ana", "--role", "manager"], tmp_path, cfg, stdin=pin + "\n"), 1)
        assert line == "tui-pos: A PIN is 6 to 8 digits ([security] pin_length).", pin
    assert run(["user", "add", "Ana", "--role", "manager"], tmp_path, cfg, stdin="246802\n").returncode == 0
    line = refused(run(["user", "add", "Bo", "--role", "cashier"], tmp_path, db_config(where), stdin="123\n"), 1)
    assert line == "tui-pos: A PIN is 4 to 8 digits."
    assert run(["user", "add", "Bo", "--role", "cashier"], tmp_path, db_config(where), stdin="1357\n").returncode == 0
    line = refused(run(["doctor"], tmp_path, db_config(where, "[security]\npin_length = 9\n")), 2)
    assert "security.pin_length = 9: expected an integer from 4 to 8" in line

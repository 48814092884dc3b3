"""The config, fuzzed (issue 28: "a fuzz test of both imports and of the config (hypothesis, a few hundred
cases, no traceback, nothing written on refusal)").

Generated configs (values of the wrong type, huge numbers, control characters, unknown sections and keys,
broken TOML, bytes that are not UTF-8, the repository's config.toml with one value replaced or its bytes
cut) go through the real loader, `config.load(path)`, and through the real command line,
`tui_pos.cli.main(["--config", path, ...])`. The only outcomes: a Config, or a ConfigError of one line that
names the file and the key (or the TOML line); the command line exits 2 with that line on standard error,
or runs the command. Never another exception, and nothing written on a refusal.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_pos import config

REPO_CONFIG = (Path(__file__).parents[2] / "config.toml").read_text(encoding="utf-8")

# ---------------------------------------------------------------- TOML text, written by hand (and broken)

KEY_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))


def toml_string(s: str) -> str:
    """A TOML basic string: every control character escaped (as TOML requires)."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(k: str) -> str:
    bare = k and all(c.isascii() and (c.isalnum() or c in "-_") for c in k)
    return k if bare else toml_string(k)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise AssertionError(type(v))


def toml_document(doc: dict) -> str:
    lines = []
    for section, body in doc.items():
        if isinstance(body, dict):
            lines.append(f"[{toml_key(section)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in body.items()]
        else:
            lines.insert(0, f"{toml_key(section)} = {toml_value(body)}")   # a top-level key, not a table
    return "\n".join(lines) + "\n"


scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1),
    st.sampled_from([0, -1, 1, 2 ** 31, 2 ** 63 - 1, -(2 ** 63), 3, 4, 8, 9, 65536, 10 ** 18]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=KEY_CHARS, max_size=40),
    st.sampled_from(["", " ", "\x00", "\x1b[2J", "\x1bp\x00\x19\xfa", "\u2028", "\x85", "\r\n", "{receipt.x}",
                     "{token.__class__}", "{0}", "{receipt:%}", "nan", "-inf", "1e30", "1e-30", "sNaN", "XXY",
                     "usd", "EUR", "textual-dark", "nope", "auto", "console", "sqlite://", "sqlite:///:memory:",
                     "sqlite:///x.db?mode=memory", "postgresql://", "x" * 5000, "é" * 300, "en_US", "zz_ZZ",
                     "PA", "04b8:0202", "ffff:fffff", "name:", "usb:zz:zz", "20:price", "PPIIIIIVVVVVC",
                     "PPPPPPPPPPPPP", "manager", "cashier", "admin", "root"]),
    st.dates(), st.datetimes(), st.times(),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(KEY_CHARS, max_size=8), inner,
                                                                        max_size=3)), max_leaves=8)
known_sections = st.sampled_from(sorted(config.SCHEMA))
section_names = st.one_of(*[known_sections] * 9, st.text(KEY_CHARS, min_size=1, max_size=12))   # 1 in 10 unknown


@st.composite
def documents(draw) -> str:
    """A config of wrong (and sometimes right) values in known and unknown sections and keys."""
    doc: dict = {}
    for section in draw(st.lists(section_names, max_size=3, unique=True)):
        keys = sorted(config.SCHEMA.get(section, {})) or ["key"]
        names = st.one_of(*[st.sampled_from(keys)] * 9, st.text(KEY_CHARS, min_size=1, max_size=10))
        if draw(st.integers(0, 29)) == 0:
            doc[section] = draw(values)   # `store = 5`: a section that is not a table
        else:
            doc[section] = draw(st.dictionaries(names, values, max_size=3))
    return toml_document(doc)


@st.composite
def one_value_replaced(draw) -> str:
    """The repository's config.toml with one key's value replaced by a generated one."""
    lines = REPO_CONFIG.splitlines()
    at = draw(st.sampled_from([i for i, ln in enumerate(lines) if " = " in ln and not ln.startswith("#")]))
    key = lines[at].split(" = ", 1)[0]
    lines[at] = f"{key} = {toml_value(draw(values))}"
    return "\n".join(lines) + "\n"


@st.composite
def broken_text(draw) -> bytes:
    """TOML made wrong: cut, bytes flipped, not UTF-8, nested deep, numbers thousands of digits long."""
    base = draw(st.one_of(documents(), st.just(REPO_CONFIG))).encode("utf-8")
    how = draw(st.sampled_from(["cut", "flip", "latin1", "utf16", "binary", "deep", "digits", "junk"]))
    if how == "cut":
        return base[:draw(st.integers(0, len(base)))]
    if how == "flip":
        data = bytearray(base or b" ")
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "latin1":
        return b'[store]\nname = "Caf\xe9"\n'
    if how == "utf16":
        return base.decode("utf-8").encode("utf-16")
    if how == "binary":
        return draw(st.binary(max_size=200))
    if how == "deep":
        depth = draw(st.sampled_from([50, 2000, 20000]))
        return b"[store]\nname = " + b"[" * depth + b"]" * depth + b"\n"
    if how == "digits":
        return b"[printer]\nport = " + draw(st.sampled_from([b"9" * 5000, b"0x" + b"f" * 5000, b"1" * 4300]))
    return draw(st.text(KEY_CHARS, max_size=200)).encode("utf-8")


any_config = st.one_of(documents().map(str.encode), one_value_replaced().map(str.encode), broken_text())


# ---------------------------------------------------------------- the properties

def check_refusal(message: str, path: Path) -> None:
    assert len(message.splitlines()) == 1, message                  # one line, whatever the file held
    assert message.startswith(f"{path}: "), message                 # names the file ...
    assert len(message) < 2000, message[:200]
    names_something = ("TOML" in message or "UTF-8" in message or "unknown section" in message
                       or "unknown key" in message or "must be a table" in message
                       or any(f"{s}.{k} = " in message for s, keys in config.SCHEMA.items() for k in keys))
    assert names_something, message                                 # ... and the key, or the TOML line


def loaded(path: Path) -> config.Config | None:
    """The real loader: a Config, or None after a ConfigError that passed the checks."""
    try:
        return config.load(str(path))
    except config.ConfigError as exc:
        check_refusal(str(exc), path)
        return None


@pytest.fixture
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=any_config)
def test_the_loader_gives_a_config_or_one_line(workdir, data):
    path = workdir / "config.toml"
    path.write_bytes(data)
    cfg = loaded(path)
    if cfg is not None:
        assert cfg.source == str(path)


@pytest.fixture
def cli(monkeypatch, workdir):
    """`tui_pos.cli.main` in this process, leaving the process as it found it (drivers, environment, logging)."""
    from tui_pos import cli as cli_mod
    saved_drivers = {d: sys.modules.get(d, "absent") for d in ("psycopg", "psycopg2")}
    root = logging.getLogger()
    handlers = list(root.handlers)
    monkeypatch.setenv("TEXTUAL_FPS", "240")
    monkeypatch.setenv("XDG_DATA_HOME", str(workdir / "data"))
    yield cli_mod.main
    for driver, module in saved_drivers.items():
        if module == "absent":
            sys.modules.pop(driver, None)
        else:
            sys.modules[driver] = module
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.name != "tui-pos.log"}   # the log is where errors are told


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=any_config)
def test_the_command_line_exits_2_with_one_line_or_runs(cli, workdir, capsys, data):
    path = workdir / "config.toml"
    path.write_bytes(data)
    try:
        cfg = config.load(str(path))
    except config.ConfigError:
        cfg = None
    # the doctor when it stays off the network (and opens no database: the data dir has none), else a
    # command that reads nothing more than the config
    quick = cfg is not None and cfg.printer.kind in ("none", "file") and cfg.database.url == ""
    args = ["--config", str(path), *(["doctor"] if quick else ["kiosk", "uninstall", "--dry-run"])]
    before = files_under(workdir)
    code = cli(args)
    out, err = capsys.readouterr()
    if cfg is None:
        assert code == 2, (code, out, err)
        assert err.startswith("tui-pos: config: "), err
        check_refusal(err.strip()[len("tui-pos: config: "):], path)
        assert out == ""
        assert files_under(workdir) == before                   # nothing written on a refusal
    else:
        assert code in (0, 1), (code, out, err)
        assert "Traceback" not in out + err
        if quick:   # the doctor never creates a database
            assert not list((workdir / "data").rglob("*.db"))

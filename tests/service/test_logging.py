"""Logs: a rotating file in the data dir, the journal under systemd, and tracebacks kept from the cashier."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import logging
    from tui_pos.bootstrap import setup_logging
    path = setup_logging()
    log = logging.getLogger("tui_pos.test")
    log.info("register started")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("unexpected error")
    print(path)
''')


def test_file_and_journal(tmp_path):
    journal = tmp_path / "journal.txt"
    with open(journal, "w") as err:
        st = os.fstat(err.fileno())
        env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        out = subprocess.run([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=err, text=True,
                             env=env, timeout=60)
    assert out.returncode == 0
    logfile = out.stdout.strip()
    assert logfile.startswith(str(tmp_path / "data")) and logfile.endswith("tui-pos.log")
    text = open(logfile).read()
    assert "INFO tui_pos.test: register started" in text and "ZeroDivisionError" in text
    said = journal.read_text().splitlines()
    assert "<6>tui_pos.test: register started" in said
    assert "<3>tui_pos.test: unexpected error" in said
    assert any(line.startswith("<3>") and "ZeroDivisionError" in line for line in said)   # the traceback too


def test_no_journal_when_stderr_is_not_the_journal(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), JOURNAL_STREAM="1:2")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and out.stderr == ""


def test_the_log_rotates(tmp_path):
    script = textwrap.dedent('''
        import logging
        from tui_pos.bootstrap import setup_logging
        setup_logging()
        log = logging.getLogger("tui_pos.test")
        for i in range(60000):   # ~10 MB: more than the file and its three old copies hold
            log.warning("line %d %s", i, "x" * 100)
    ''')
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    files = sorted(p.name for p in (tmp_path / "data" / "tui-pos").iterdir() if p.name.startswith("tui-pos.log"))
    assert files == ["tui-pos.log", "tui-pos.log.1", "tui-pos.log.2", "tui-pos.log.3"]
    assert all((tmp_path / "data" / "tui-pos" / f).stat().st_size <= 2_100_000 for f in files)

"""The command line's progress bar (issue 23): on a terminal after a second's work, silent otherwise."""

import io

from tui_pos import progress


def test_not_a_terminal_prints_nothing():
    out = io.StringIO()
    with progress.bar("Importing", stream=out) as p:
        for i in range(5):
            p(i, 5, "rows")
    assert out.getvalue() == ""


def test_a_terminal_shows_the_bar_once_the_work_takes_time(monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
    out = io.StringIO()
    with progress.bar("Importing customers", stream=out, force=True) as p:
        p(50, 100, "checked")
        p(100, 100, "written")
    assert "Importing customers" in out.getvalue() and "100/100" in out.getvalue()


def test_a_quick_command_shows_no_bar():
    out = io.StringIO()
    with progress.bar("Quick", stream=out, force=True) as p:
        p(1, 1, "")
    assert "Quick" not in out.getvalue()

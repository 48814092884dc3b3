"""`tui-pos --support`: read-only diagnostics beside the register; it refuses to sell."""

import subprocess
import sys

from helpers import until
from test_printing_ui import sell

from tui_pos.app import SupportApp
from tui_pos.bootstrap import build_support
from tui_pos.config import from_dict
from tui_pos.models import Note, PrintJob


def tab(app, name):
    return str(app.screen.query_one(f"#support-{name}").render())


async def test_support_shows_the_register_and_refuses_to_sell(make_app, printer_file, tmp_path):
    register = make_app(demo_users=False)                 # the register, seeded, one sale
    async with register.run_test(size=(100, 30)) as pilot:
        await sell(pilot, "CAPP")
        await register.wait_printed()
    log = tmp_path / "tui-pos.log"
    log.write_text("2026-11-27 08:00:00 WARNING tui_pos: printing R1-000001 failed\n")
    cfg = from_dict({"database": {"url": f"sqlite:///{tmp_path / 'pos.db'}"},
                     "printer": {"kind": "file", "path": str(printer_file)},
                     "dgi": {"token": "s3cret-token"}})
    app = SupportApp(build_support(cfg), str(log))
    notes_before = Note.select().count()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "schema" in tab(app, "health") and "printer" in tab(app, "devices"))
        health = tab(app, "health")
        assert "OK   schema: version" in health and "OK   loyalty balances" in health
        assert "file " in tab(app, "devices")
        assert "R1-000001" in tab(app, "receipts")
        assert "printing R1-000001 failed" in tab(app, "log")
        config = tab(app, "config")
        assert 'token = "****"' in config and "s3cret" not in config
        assert "SUPPORT MODE" in str(app.screen.query_one("#status-bar").render())
        # selling keys do nothing but say so
        for key in ("f10", "f2", "enter"):
            await pilot.press(key)
            await pilot.pause()
            assert "does not sell" in str(app.screen.query_one("#message").render())
        assert Note.select().count() == notes_before
        # reprint queues a copy for the register; the printer test goes straight to the printer
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press(*"R1-000001", "enter")
        await pilot.pause()
        assert "R1-000001 queued" in str(app.screen.query_one("#message").render())
        before = printer_file.read_bytes()
        await pilot.press("ctrl+t")
        await until(pilot, lambda: "Test page sent" in str(app.screen.query_one("#message").render()))
        assert b"Printer test" in printer_file.read_bytes()[len(before):]
        await pilot.press("ctrl+n")
        await pilot.pause()
    job = PrintJob.select().order_by(PrintJob.id.desc()).get()
    assert (job.receipt_no, job.reprint, job.state) == ("R1-000001", True, "waiting")


def test_support_refuses_a_database_it_would_have_to_change(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "empty.db"}"\n')
    out = subprocess.run([sys.executable, "-m", "tui_pos", "--support"], capture_output=True, text=True,
                         env={"TUI_POS_CONFIG": str(cfg), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 1 and "tui-pos init" in out.stderr and "Traceback" not in out.stderr

"""A real app on a seeded SQLite file, with the receipt printer writing to a file."""

import pytest

from tui_pos.bootstrap import build, open_database
from tui_pos.config import from_dict


@pytest.fixture
def make_app(tmp_path):
    from tui_pos.app import PosApp
    from tui_pos.models import db

    def make(demo_users=True, scanner=None, scanner_backend=None, config=None, **printer):
        printer = printer or {"kind": "file", "path": str(tmp_path / "printer.bin")}
        cfg = from_dict({"database": {"url": f"sqlite:///{tmp_path / 'pos.db'}"}, "printer": printer,
                         "receipt": {"footer": ["Thank you!"]}, "scanner": scanner or {}, **(config or {})})
        open_database(cfg, create=True)             # what `tui-pos init` does
        runtime = build(cfg, allow_no_users=True)   # seeded below; demo_users=False: no sign-in
        runtime.scanner_backend = scanner_backend
        import tui_pos.services.demo as demo
        saved = demo.DEMO_USERS
        demo.DEMO_USERS = saved if demo_users else []  # no users: the register opens without a PIN
        try:
            demo.seed_demo(with_loyalty=False)  # tests make their own customers and programs
        finally:
            demo.DEMO_USERS = saved
        return PosApp(runtime)
    yield make
    if db.obj is not None and not db.is_closed():
        db.close()


@pytest.fixture
def printer_file(tmp_path):
    return tmp_path / "printer.bin"

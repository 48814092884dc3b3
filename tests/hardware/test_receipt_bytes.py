"""Exact ESC/POS bytes of a receipt on python-escpos' Dummy, at 32 and 48 columns."""

import datetime as dt

from tui_pos.domain.money import MoneyFormat
from tui_pos.domain.pricing import PricedLine, note_totals
from tui_pos.domain.receipt import Receipt, ReceiptLine, layout
from tui_pos.hardware.printer import render

INIT, KICK, CUT = b"\x1b@", b"\x1bp\x0022", b"\x1bd\x06\x1dV\x00"
BOLD, PLAIN, CENTER, LEFT = b"\x1bE\x01", b"\x1bE\x00", b"\x1ba\x01", b"\x1ba\x00"
CODEPAGE = b"\x1bt\x00"
BARCODE = b"\x1dh@\x1dw\x02\x1df\x00\x1dH\x00\x1dkI\x0b{BR1-000042"


def receipt():
    return Receipt(store_name="Demo Store", receipt_no="R1-000042", when=dt.datetime(2026, 11, 27, 9, 30),
                   cashier="Ana", sales_mode="counter", lines=(ReceiptLine("Espresso", 2, 150, 300, 0, 300),),
                   totals=note_totals([PricedLine(2, 150, 700)]), payments=(("cash", 500),), change_cents=200,
                   footer=("Thank you!",))


def body(w):
    pad = lambda left, right: (left + " " * (w - len(left) - len(right)) + right + "\n").encode()  # noqa: E731
    rule = b"-" * w + b"\n"
    return (pad("R1-000042", "2026-11-27 09:30") + pad("Cashier: Ana", "counter") + rule + b"Espresso\n"
            + pad("  2 x 1.50", "3.00") + rule + BOLD + pad("TOTAL", "3.00") + PLAIN + pad("Tax 7% on 2.80", "0.20")
            + pad("Items 2", "Lines 1") + rule + pad("Cash", "5.00") + BOLD + pad("Change", "2.00") + PLAIN + b"\n")


def tail(barcode=True, cut=True):
    out = CENTER + b"R1-000042\n"
    if barcode:
        out += LEFT + CENTER + BARCODE + LEFT + b"\n" + CENTER
    out += b"Thank you!\n" + LEFT
    return out + (CUT if cut else b"\x1bd\x06")


def test_32_columns_on_a_tm_t20ii():
    data = render(layout(receipt(), 32, MoneyFormat().plain), kick_drawer=True, profile="TM-T20II")
    assert data == (INIT + KICK + BOLD + CENTER + CODEPAGE + b"Demo Store\n" + PLAIN + LEFT + body(32) + tail())


def test_48_columns_with_a_double_size_store_name():
    data = render(layout(receipt(), 48, MoneyFormat().plain), kick_drawer=False, profile="TM-T20II")
    double = b"\x1b!\x00\x1b!\x00\x1b!0"     # font A, then double width and height
    normal = b"\x1b!\x00\x1b!\x00\x1b!\x00"
    assert data == (INIT + double + BOLD + CENTER + CODEPAGE + b"Demo Store\n" + normal + PLAIN + LEFT + body(48)
                    + tail())


def test_a_58mm_printer_without_barcode_or_cutter_gets_plain_text():
    data = render(layout(receipt(), 32, MoneyFormat().plain), profile="POS-5890")
    assert data == (INIT + BOLD + CENTER + b"\x1bt\x01Demo Store\n" + PLAIN + LEFT + body(32)
                    + tail(barcode=False, cut=False))


def test_qr_code_native_when_the_profile_has_it_else_as_an_image():
    rows = layout(receipt(), 48, MoneyFormat().plain)
    url = "https://example.com/r/R1-000042"
    with_qr = render(rows, profile="TM-T20II", qr=url)
    qr_at = with_qr.index(b"\x1d(k")                                    # GS ( k: the printer draws it
    assert url.encode() in with_qr and with_qr.rindex(CENTER, 0, qr_at) > with_qr.rindex(LEFT, 0, qr_at)
    assert with_qr.endswith(LEFT + CUT)
    as_image = render(rows, profile="POS-5890", qr=url)                  # no native QR: a raster image
    assert b"\x1d(k" not in as_image and b"\x1dv0" in as_image and url.encode() not in as_image


def test_logo_image_is_printed_and_a_missing_logo_is_skipped(tmp_path):
    from PIL import Image
    logo = tmp_path / "logo.png"
    Image.new("1", (64, 16), 0).save(logo)
    rows = layout(receipt(), 48, MoneyFormat().plain)
    data = render(rows, logo=str(logo))
    assert b"\x1dv0" in data[:40]                                 # GS v 0: a raster image before the text
    assert render(rows, logo=str(tmp_path / "none.png")) == render(rows)


def test_a_truncated_capability_cache_is_rebuilt_not_fatal(tmp_path):
    """python-escpos writes its capability cache in place: a register killed while writing it (or a second
    process reading it half-written) left a truncated file, and every later receipt failed with EOFError."""
    import platform
    import subprocess
    import sys
    (tmp_path / f"{platform.python_version()}.capabilities.pickle").write_bytes(b"\x80\x04\x95")
    code = ("from tui_pos.hardware.printer import render\n"
            "from tui_pos.domain.receipt import Row\n"
            "data = render([Row('TOTAL  1.50'), Row(cut=True)])\n"
            "assert b'TOTAL' in data, data\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "ESCPOS_CAPABILITIES_PICKLE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "unreadable: rebuilt" in done.stderr

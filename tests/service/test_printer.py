"""ESC/POS bytes to a real TCP socket (a network printer) and to a file."""

import socket
import threading

import pytest

from tui_pos.config import from_dict
from tui_pos.hardware.printer import PrinterError, make_printer, render
from tui_pos.domain.receipt import Row


def listen():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = bytearray()

    def accept():
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return server, thread, received


def test_network_printer_receives_the_receipt():
    server, thread, received = listen()
    port = server.getsockname()[1]
    cfg = from_dict({"printer": {"kind": "network", "host": "127.0.0.1", "port": port, "timeout": 2}})
    printer = make_printer(cfg.printer)
    data = render([Row("Demo Store", align="center", bold=True), Row("TOTAL  1.50"), Row(barcode="R1-000001"),
                   Row(cut=True)], kick_drawer=True)
    printer.send(data)
    thread.join(5)
    server.close()
    assert bytes(received) == data
    assert data.startswith(b"\x1b@") and b"\x1dkI\x0b{BR1-000001" in data and b"\x1bp\x0022" in data


def test_silent_network_printer_is_reported_not_raised_raw():
    cfg = from_dict({"printer": {"kind": "network", "host": "127.0.0.1", "port": 9, "timeout": 1}})
    with pytest.raises(PrinterError, match="did not take the receipt"):
        make_printer(cfg.printer).send(b"x")


def test_file_printer_appends(tmp_path):
    target = tmp_path / "lp0"
    cfg = from_dict({"printer": {"kind": "file", "path": str(target)}})
    printer = make_printer(cfg.printer)
    printer.send(b"one")
    printer.send(b"two")
    assert target.read_bytes() == b"onetwo"


def test_misconfigured_printers_say_what_is_missing():
    for printer, fragment in [({"kind": "network"}, "needs printer.host"), ({"kind": "file"}, "needs printer.path"),
                              ({"kind": "usb"}, "needs printer.usb"), ({"kind": "serial"}, "needs printer.device")]:
        with pytest.raises(PrinterError, match=fragment):
            make_printer(from_dict({"printer": printer}).printer)

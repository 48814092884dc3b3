"""ESC/POS bytes to a real TCP socket (a network printer) and to a file."""

import pytest

from tui_pos.config import from_dict
from tui_pos.domain.receipt import Row
from tui_pos.hardware.netprinter_sim import SimulatedPrinter
from tui_pos.hardware.printer import PrinterError, make_printer, render


def test_network_printer_receives_the_receipt():
    sim = SimulatedPrinter().start()
    cfg = from_dict({"printer": {"kind": "network", "host": "127.0.0.1", "port": sim.port, "timeout": 2}})
    printer = make_printer(cfg.printer)
    data = render([Row("Demo Store", align="center", bold=True), Row("TOTAL  1.50"), Row(barcode="R1-000001"),
                   Row(cut=True)], kick_drawer=True)
    assert printer.send(data) == "ok"      # it answered its paper sensor first
    assert sim.wait_for(1)
    sim.stop()
    assert sim.jobs == [data]
    assert data.startswith(b"\x1b@\x1bp\x0022") and b"\x1dkI\x0b{BR1-000001" in data


def test_a_printer_that_never_answers_its_status_still_prints():
    sim = SimulatedPrinter(answers=False).start()
    printer = make_printer(from_dict({"printer": {"kind": "network", "host": "127.0.0.1", "port": sim.port,
                                                  "timeout": 2}}).printer)
    assert printer.send(b"hello") is None
    assert sim.wait_for(1) and sim.jobs == [b"hello"]  # it stayed silent: printing went ahead
    sim.stop()


def test_paper_out_is_reported_and_nothing_is_printed():
    from tui_pos.services.printing import PaperOut
    sim = SimulatedPrinter().start()
    sim.paper = "out"
    printer = make_printer(from_dict({"printer": {"kind": "network", "host": "127.0.0.1", "port": sim.port,
                                                  "timeout": 2}}).printer)
    with pytest.raises(PaperOut, match="out of paper"):
        printer.send(b"receipt")
    assert "PAPER OUT" in printer.status()
    sim.paper = "ok"
    assert printer.status() == "online, paper ok"
    sim.stop()
    assert b"receipt" not in b"".join(sim.jobs)


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

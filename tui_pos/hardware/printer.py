"""ESC/POS printing: render a receipt to bytes on escpos' Dummy, send them in one write.

escpos is imported lazily (it costs ~0.2 s and prints to stdout), never on
the path to the first screen.  Sending happens in a worker; a failure raises
PrinterError, which the app reports without touching the sale.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Protocol

from tui_pos.domain.receipt import Row

log = logging.getLogger(__name__)


class PrinterError(Exception):
    """The printer could not take the job; the message says what to check."""


def _escpos():
    """Import escpos once, with its capability cache in a fixed folder."""
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" not in os.environ:
        from tui_pos.config import data_dir
        cache = data_dir() / "escpos-cache"
        cache.mkdir(parents=True, exist_ok=True)
        os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(cache)
    else:
        Path(os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"]).mkdir(parents=True, exist_ok=True)
    import escpos.printer  # noqa: F401  (configures logging: ours is set up first)
    return escpos.printer


def render(rows: list[Row], *, kick_drawer: bool = False, profile: str = "TM-T20II") -> bytes:
    """The ESC/POS bytes of a laid-out receipt (python-escpos on a Dummy)."""
    printer = _escpos().Dummy(profile=profile)
    with contextlib.redirect_stdout(io.StringIO()):  # escpos print()s from barcode()
        printer.hw("INIT")
        for row in rows:
            if row.cut:
                printer.cut()
                continue
            if row.barcode:
                printer.barcode("{B" + row.barcode, "CODE128", function_type="B", height=64, width=2,
                                pos="OFF", align_ct=True)
                printer.set(align="left")
                printer.text("\n")
                continue
            printer.set(align=row.align, bold=row.bold, double_height=row.big, double_width=row.big,
                        normal_textsize=not row.big)
            printer.text(row.text + "\n")
            if row.big or row.bold or row.align != "left":
                printer.set(align="left", bold=False, normal_textsize=True)
        if kick_drawer:
            printer.cashdraw(2)
    return printer.output


def drawer_kick_bytes() -> bytes:
    printer = _escpos().Dummy()
    printer.cashdraw(2)
    return printer.output


class Printer(Protocol):
    """Where ESC/POS bytes go."""

    kind: str
    has_drawer: bool

    def send(self, data: bytes) -> None: ...

    def describe(self) -> str: ...


class NoPrinter:
    """No printer configured: receipts are not printed."""

    kind = "none"
    has_drawer = False

    def send(self, data: bytes) -> None:
        log.info("no printer configured; %d bytes not printed", len(data))

    def describe(self) -> str:
        return "no printer (kind = \"none\")"


class FilePrinter:
    """Appends the bytes to a file (a /dev/usb/lp0 device node, or a capture for tests)."""

    kind = "file"

    def __init__(self, path: str, drawer: bool = True) -> None:
        if not path:
            raise PrinterError("printer.kind = \"file\" needs printer.path")
        self.path = path
        self.has_drawer = drawer

    def send(self, data: bytes) -> None:
        try:
            with open(self.path, "ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise PrinterError(f"cannot write to {self.path}: {exc.strerror or exc}") from None

    def describe(self) -> str:
        return f"file {self.path}"


class NetworkPrinter:
    """A raw TCP (JetDirect, port 9100) printer, through escpos' Network class."""

    kind = "network"

    def __init__(self, host: str, port: int = 9100, timeout: int = 5, drawer: bool = True) -> None:
        if not host:
            raise PrinterError("printer.kind = \"network\" needs printer.host")
        self.host, self.port, self.timeout = host, port, timeout
        self.has_drawer = drawer

    def send(self, data: bytes) -> None:
        net = _escpos().Network(host=self.host, port=self.port, timeout=self.timeout)
        try:
            net._raw(data)  # opens the socket on the first write
        except (OSError, socket.timeout, Exception) as exc:  # escpos wraps little: report all
            raise PrinterError(f"printer {self.host}:{self.port} did not take the receipt "
                               f"({type(exc).__name__}: {exc}); check it is on and connected") from None
        finally:
            with contextlib.suppress(Exception):
                net.close()

    def describe(self) -> str:
        return f"network {self.host}:{self.port}"


class EscposDevicePrinter:
    """USB, serial or CUPS through the matching escpos class (opened per job)."""

    def __init__(self, kind: str, factory, description: str, drawer: bool = True) -> None:
        self.kind = kind
        self._factory = factory
        self._description = description
        self.has_drawer = drawer

    def send(self, data: bytes) -> None:
        device = None
        try:
            device = self._factory()
            device._raw(data)  # escpos opens the connection on the first write
        except Exception as exc:  # noqa: BLE001 - pyusb/pyserial errors are not wrapped by escpos
            raise PrinterError(f"{self._description} did not take the receipt "
                               f"({type(exc).__name__}: {exc}); check the cable and power") from None
        finally:
            if device is not None:
                with contextlib.suppress(Exception):
                    device.close()

    def describe(self) -> str:
        return self._description


def make_printer(cfg: SimpleNamespace) -> Printer:
    """The printer the config names (built lazily: nothing is opened here)."""
    kind = cfg.kind
    if kind == "none":
        return NoPrinter()
    if kind == "file":
        return FilePrinter(cfg.path, cfg.drawer)
    if kind == "network":
        return NetworkPrinter(cfg.host, cfg.port, cfg.timeout, cfg.drawer)
    if kind == "usb":
        if not cfg.usb:
            raise PrinterError('printer.kind = "usb" needs printer.usb = "vendor:product"')
        vendor, product = (int(x, 16) for x in cfg.usb.split(":"))
        return EscposDevicePrinter(
            "usb", lambda: _escpos().Usb(idVendor=vendor, idProduct=product, timeout=cfg.timeout * 1000),
            f"USB printer {cfg.usb}", cfg.drawer)
    if kind == "serial":
        if not cfg.device:
            raise PrinterError('printer.kind = "serial" needs printer.device')
        return EscposDevicePrinter(
            "serial", lambda: _escpos().Serial(devfile=cfg.device, baudrate=cfg.baudrate, timeout=cfg.timeout),
            f"serial printer {cfg.device}", cfg.drawer)
    if kind == "cups":
        return EscposDevicePrinter("cups", lambda: _escpos().CupsPrinter(printer_name=cfg.path or None),
                                   f"CUPS printer {cfg.path or '(default)'}", cfg.drawer)
    raise PrinterError(f"unknown printer kind {kind!r}")

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Protocol

from tui_pos.domain.receipt import Row
from tui_pos.domain.text import printable

log = logging.getLogger(__name__)


class PaperOut(Exception):
    """The printer says it has no paper (nothing was printed)."""


class PrinterError(Exception):
    """The printer could not take the job; the message says what to check.

    `maybe_printed`: the failure came while the bytes were being written, so part of the job (the
    drawer kick comes first) may be on paper; False when nothing reached the printer (it could not be
    opened, or said it had no paper). The print queue prints a job again as COPY only in the first case.
    """

    def __init__(self, message: str = "", *, maybe_printed: bool = False) -> None:
        super().__init__(message)
        self.maybe_printed = maybe_printed


def _escpos():
    """Import escpos once, with its capability cache in a fixed folder (the composition root names it in
    ESCPOS_CAPABILITIES_PICKLE_DIR; else the user's cache folder)."""
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" not in os.environ:
        from platformdirs import user_cache_dir
        os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(Path(user_cache_dir("tui-pos", appauthor=False))
                                                           / "escpos-cache")
    Path(os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"]).mkdir(parents=True, exist_ok=True)
    try:
        import escpos.printer  # configures logging: ours is set up first
    except Exception:  # a truncated capability cache (EOFError, UnpicklingError, ...)
        # python-escpos writes its cache in place: a register killed while writing it, or another process
        # reading it half-written, left every later receipt failing "could not be built (EOFError)". Drop
        # the cache and build it again (once); any other failure goes up as before.
        cache = Path(os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"])
        dropped = [p for p in cache.glob("*.capabilities.pickle") if p.unlink(missing_ok=True) is None]
        if not dropped:
            raise
        log.warning("python-escpos's capability cache in %s was unreadable: rebuilt", cache)
        import escpos.printer
    return escpos.printer


@dataclass(frozen=True)
class Extras:
    """What goes on paper beside the text, when the printer's profile can print it."""

    profile: str = "TM-T20II"
    qr: str = ""          # text of a QR code under the barcode ("" = none)
    logo: str = ""        # path of an image printed above the store name ("" = none)


def render(rows: list[Row], *, kick_drawer: bool = False, profile: str = "TM-T20II",
           qr: str = "", logo: str = "") -> bytes:
    """The ESC/POS bytes of a laid-out receipt (python-escpos on a Dummy).

    The drawer kick comes first, so the drawer opens while the receipt prints.
    A barcode, QR code or logo is printed only when the profile supports it;
    otherwise the receipt stays plain text (the number is always printed as text).
    """
    printer = _escpos().Dummy(profile=profile)
    caps = printer.profile
    style = ("left", False, False)  # what the printer is set to: align, bold, double size
    with contextlib.redirect_stdout(io.StringIO()):  # escpos print()s from barcode()
        printer.hw("INIT")
        if kick_drawer:
            printer.cashdraw(2)
        if logo and (caps.supports("bitImageRaster") or caps.supports("graphics")):
            try:
                printer.image(logo, center=True)   # centred by padding: the text alignment is untouched
            except Exception as exc:  # noqa: BLE001 - a bad logo file must not stop the receipt
                log.warning("logo %s not printed: %s", logo, exc)
        for row in rows:
            if row.cut:
                if qr and caps.supports("qrCode"):
                    style = _restyle(printer, style, ("center", False, False))
                    printer.qr(qr, native=True, size=4)
                elif qr and caps.supports("bitImageRaster"):
                    printer.qr(qr, native=False, size=4, center=True)
                style = _restyle(printer, style, ("left", False, False))
                printer.cut()
                continue
            if row.barcode:
                if caps.supports("barcodeB"):
                    style = _restyle(printer, style, ("left", style[1], False))
                    printer.barcode("{B" + row.barcode, "CODE128", function_type="B", height=64, width=2,
                                    pos="OFF", align_ct=True)
                    printer.set(align="left")  # barcode(align_ct=True) leaves the printer centred
                    printer.text("\n")
                continue
            style = _restyle(printer, style, (row.align, row.bold, row.big))
            printer.text(printable(row.text) + "\n")   # data never reaches the printer as its codes
    return printer.output


def _restyle(printer, old: tuple[str, bool, bool], new: tuple[str, bool, bool]) -> tuple[str, bool, bool]:
    """Send only the style commands that change (a 9600-baud serial printer notices every byte)."""
    if new != old:
        changes: dict = {}
        if new[0] != old[0]:
            changes["align"] = new[0]
        if new[1] != old[1]:
            changes["bold"] = new[1]
        if new[2] != old[2]:
            changes.update({"double_height": True, "double_width": True} if new[2] else {"normal_textsize": True})
        printer.set(**changes)
    return new


def drawer_kick_bytes(profile: str = "TM-T20II") -> bytes:
    printer = _escpos().Dummy(profile=profile)
    printer.cashdraw(2)
    return printer.output


def _paper_state(device, timeout: float) -> str | None:
    """Ask an open escpos device for its paper sensor: "ok", "low", "out", or None (no answer).

    A hint only: many printers do not answer, and then printing goes ahead.
    """
    sock = getattr(device, "device", None)
    old = None
    try:
        if isinstance(sock, socket.socket):
            old = sock.gettimeout()
            sock.settimeout(timeout)
        state = device.paper_status()
    except Exception:  # noqa: BLE001 - TimeoutError, NotImplementedError, USBError...
        return None
    finally:
        if old is not None and isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.settimeout(old)
    return {0: "out", 1: "low"}.get(state, "ok")


class Printer(Protocol):
    """Where ESC/POS bytes go."""

    kind: str
    has_drawer: bool

    def send(self, data: bytes) -> str | None:
        """Write the bytes in one go; return the paper hint ("ok", "low" or None).

        Raises PrinterError (or PaperOut when the printer says it has no paper).
        """

    def status(self) -> str:
        """What the printer says of itself, in one line (for `tui-pos printer test`)."""

    def describe(self) -> str: ...


class NoPrinter:
    """No printer configured: receipts are not printed."""

    kind = "none"
    has_drawer = False

    def send(self, data: bytes) -> str | None:
        log.info("no printer configured; %d bytes not printed", len(data))
        return None

    def status(self) -> str:
        return "no printer configured"

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

    def send(self, data: bytes) -> str | None:
        try:
            f = open(self.path, "ab")
        except OSError as exc:
            raise PrinterError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
        try:
            with f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise PrinterError(f"cannot write to {self.path}: {exc.strerror or exc}", maybe_printed=True) from None
        return None

    def status(self) -> str:
        where = Path(self.path)
        if where.exists():
            return f"{self.path} is there and " + ("writable" if os.access(where, os.W_OK) else "NOT writable")
        return f"{self.path} does not exist yet (it is created on the first receipt)"

    def describe(self) -> str:
        return f"file {self.path}"


class EscposPrinter:
    """A network (raw TCP 9100), USB, serial or CUPS printer through the matching escpos class.

    The connection is opened per job: asked for its paper sensor (a short,
    optional answer), written in one call, and closed; on any error it is
    reset, so the next try starts clean.
    """

    def __init__(self, kind: str, factory: Callable[[], object], description: str, drawer: bool = True,
                 paper_check: bool = True, status_timeout: float = 0.5) -> None:
        self.kind = kind
        self._factory = factory
        self._description = description
        self.has_drawer = drawer
        self.paper_check = paper_check and kind != "cups"
        self.status_timeout = status_timeout

    def _open(self):
        device = self._factory()
        _ = device.device  # escpos opens the connection on first access (raises DeviceNotFoundError)
        return device

    def send(self, data: bytes) -> str | None:
        device = None
        writing = False
        try:
            device = self._open()
            paper = _paper_state(device, self.status_timeout) if self.paper_check else None
            if paper == "out":
                raise PaperOut(f"{self._description} is out of paper: load a roll; the receipt prints then")
            writing = True       # from here part of the job may reach the paper
            device._raw(data)
            return paper
        except PaperOut:
            raise
        except Exception as exc:  # noqa: BLE001 - escpos wraps little: socket, pyusb, pyserial errors
            raise PrinterError(f"{self._description} did not take the receipt "
                               f"({type(exc).__name__}: {exc}); check it is on, connected and has paper",
                               maybe_printed=writing) from None
        finally:
            if device is not None:
                with contextlib.suppress(Exception):
                    device.close()

    def status(self) -> str:
        device = None
        try:
            device = self._open()
        except Exception as exc:  # noqa: BLE001
            return f"cannot connect ({type(exc).__name__}: {exc})"
        try:
            online = None
            with contextlib.suppress(Exception):
                sock = getattr(device, "device", None)
                if isinstance(sock, socket.socket):
                    sock.settimeout(self.status_timeout)
                online = device.is_online()
            paper = _paper_state(device, self.status_timeout)
            if online is None and paper is None:
                return "connected; the printer does not report its status"
            words = ["online" if online else "offline (cover open or error)" if online is False else "status unknown"]
            words.append({"ok": "paper ok", "low": "paper low", "out": "PAPER OUT", None: "paper unknown"}[paper])
            return ", ".join(words)
        finally:
            with contextlib.suppress(Exception):
                device.close()

    def describe(self) -> str:
        return self._description


def make_printer(cfg: SimpleNamespace) -> Printer:
    """The printer the config names (built lazily: nothing is opened here)."""
    kind = cfg.kind
    check = getattr(cfg, "paper_check", True)
    profile = getattr(cfg, "profile", "TM-T20II")
    if kind == "none":
        return NoPrinter()
    if kind == "file":
        return FilePrinter(cfg.path, cfg.drawer)
    if kind == "network":
        if not cfg.host:
            raise PrinterError("printer.kind = \"network\" needs printer.host")
        return EscposPrinter(
            "network", lambda: _escpos().Network(host=cfg.host, port=cfg.port, timeout=cfg.timeout, profile=profile),
            f"printer {cfg.host}:{cfg.port}", cfg.drawer, check)
    if kind == "usb":
        if not cfg.usb:
            raise PrinterError('printer.kind = "usb" needs printer.usb = "vendor:product"')
        vendor, product = (int(x, 16) for x in cfg.usb.split(":"))
        return EscposPrinter(
            "usb", lambda: _escpos().Usb(idVendor=vendor, idProduct=product, timeout=cfg.timeout * 1000,
                                        profile=profile),
            f"USB printer {cfg.usb}", cfg.drawer, check)
    if kind == "serial":
        if not cfg.device:
            raise PrinterError('printer.kind = "serial" needs printer.device')
        return EscposPrinter(
            "serial", lambda: _escpos().Serial(devfile=cfg.device, baudrate=cfg.baudrate, timeout=cfg.timeout,
                                              profile=profile),
            f"serial printer {cfg.device}", cfg.drawer, check)
    if kind == "cups":
        return EscposPrinter("cups", lambda: _escpos().CupsPrinter(printer_name=cfg.path or None),
                             f"CUPS printer {cfg.path or '(default)'}", cfg.drawer, False)
    raise PrinterError(f"unknown printer kind {kind!r}")

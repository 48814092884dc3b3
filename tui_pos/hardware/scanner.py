"""evdev barcode scanners: find them, grab them, read codes, survive unplugging.

`ScannerHub.run()` is a coroutine for the app's event loop (an async worker).
It opens every input device that matches a `[scanner] devices` entry, grabs
it so scans never reach the console or the app's own keyboard input, reads it
with evdev's `async_read_loop()` and calls `on_code(code, device_name)` once
per scan. A device that goes away (ENODEV) is reported at once; the hub looks
for it again every `poll` seconds, without a busy loop, and picks it up when
it comes back. No Textual here: the app turns the callbacks into messages.

Device entries (`[scanner] devices`):
  "/dev/input/by-id/usb-...-event-kbd"   an event path (symlinks are followed)
  "name:Honeywell"                       every device whose name contains the text
  "usb:0c2e:0b61"                        every device with that USB vendor:product
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import stat
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from tui_pos.hardware.devices import DeviceInfo
from tui_pos.hardware.keymap import KEY_ENTER, ScanDecoder

log = logging.getLogger(__name__)

INPUT_DIR = "/dev/input"


@dataclass(frozen=True)
class ScannerState:
    """What the status bar shows of one configured entry."""

    spec: str
    state: str          # ready | gone | missing | denied | busy | off
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "ready"


class SpecError(ValueError):
    """A `[scanner] devices` entry that cannot be understood."""


def parse_spec(spec: str) -> tuple[str, object]:
    """("path", "/dev/input/...") | ("name", "text") | ("usb", (vendor, product))."""
    spec = spec.strip()
    if spec.startswith("name:") and spec[5:].strip():
        return "name", spec[5:].strip().lower()
    if spec.startswith("usb:"):
        parts = spec[4:].split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            return "usb", (int(parts[0], 16), int(parts[1], 16))
        except ValueError:
            raise SpecError(f'{spec!r}: expected "usb:vendor:product" in hex, e.g. "usb:0c2e:0b61"') from None
    if spec.startswith("/"):
        return "path", spec
    raise SpecError(f'{spec!r}: expected an event path ("/dev/input/by-id/..."), "name:<text>" '
                    'or "usb:<vendor>:<product>"')


def matches(spec: str, info: DeviceInfo) -> bool:
    """Does this configured entry name this device?"""
    kind, value = parse_spec(spec)
    if kind == "path":
        return os.path.realpath(str(value)) == os.path.realpath(info.path)
    if not info.has_enter:
        return False  # a scanner ends every code with Enter: mice, buttons and lids cannot scan
    if kind == "name":
        return str(value) in info.name.lower()
    vendor, product = cast("tuple[int, int]", value)
    return (info.vendor, info.product) == (vendor, product)


class Device(Protocol):
    """What the hub needs of an open device (evdev.InputDevice has it all)."""

    name: str

    def grab(self) -> None: ...

    def async_read_loop(self) -> AsyncIterator[Any]: ...

    def close(self) -> None: ...


class Backend(Protocol):
    """Where devices come from: evdev on Linux, pipes in tests."""

    def devices(self) -> list[DeviceInfo]: ...

    def generation(self) -> object: ...

    def open(self, path: str) -> Device: ...


class EvdevBackend:
    """The real devices under /dev/input (evdev is imported lazily)."""

    def __init__(self, directory: str = INPUT_DIR) -> None:
        self.directory = directory

    def generation(self) -> object:
        """Changes when a device node appears or goes: rescanning is only needed then."""
        try:
            return tuple(sorted(os.listdir(self.directory)))
        except OSError:
            return ()

    def devices(self) -> list[DeviceInfo]:
        import evdev
        from evdev import ecodes
        found = []
        try:
            names = sorted(n for n in os.listdir(self.directory) if n.startswith("event"))
        except OSError:
            return []
        for name in names:
            path = os.path.join(self.directory, name)
            try:
                dev = evdev.InputDevice(path)
            except PermissionError:
                found.append(DeviceInfo(path, readable=False, problem="no permission (see the udev rule)"))
                continue
            except OSError as exc:
                found.append(DeviceInfo(path, readable=False, problem=exc.strerror or str(exc)))
                continue
            try:
                keys = dev.capabilities().get(ecodes.EV_KEY, [])
                found.append(DeviceInfo(path, dev.name, dev.info.vendor, dev.info.product,
                                        has_enter=KEY_ENTER in keys))
            finally:
                dev.close()
        return found

    def open(self, path: str) -> Device:
        if stat.S_ISFIFO(os.stat(path).st_mode):
            # A named pipe carrying raw input events (struct input_event), e.g. a scanner
            # relayed from another machine or a benchmark's: read by the same evdev reader.
            from tui_pos.hardware.evpipe import PipeDevice
            return PipeDevice(os.open(path, os.O_RDONLY | os.O_NONBLOCK), f"fifo {os.path.basename(path)}", path)
        import evdev
        return evdev.InputDevice(path)


StateCallback = Callable[[ScannerState], None]
CodeCallback = Callable[[str, str], None]


class ScannerHub:
    """Every configured scanner, read on the running event loop."""

    def __init__(self, specs: Iterable[str], on_code: CodeCallback, on_state: StateCallback, *,
                 layout: str = "us", grab: bool = True, timeout: float = 0.5, poll: float = 1.0,
                 backend: Backend | None = None) -> None:
        self.specs = list(specs)
        for spec in self.specs:
            parse_spec(spec)  # raise SpecError now, not in the loop
        self.on_code = on_code
        self.on_state = on_state
        self.layout = layout
        self.grab = grab
        self.timeout = timeout
        self.poll = poll
        self.backend: Backend = backend or EvdevBackend()
        self.open_paths: dict[str, str] = {}        # path -> spec, devices being read now
        self.states: dict[str, ScannerState] = {}
        self._readers: set[asyncio.Task] = set()
        self._dirty = True          # rescan on the next tick even if no device node changed

    def _set(self, spec: str, state: str, detail: str = "") -> None:
        new = ScannerState(spec, state, detail)
        if self.states.get(spec) != new:
            self.states[spec] = new
            log.info("scanner %s: %s %s", spec, state, detail)
            self.on_state(new)

    async def run(self) -> None:
        """Discover, read, rediscover: until cancelled."""
        if not self.specs:
            return
        seen: object = None
        try:
            while True:
                generation = self.backend.generation()
                wanted = [s for s in self.specs if not any(v == s for v in self.open_paths.values())]
                if wanted and (generation != seen or self._dirty):
                    self._dirty = False
                    seen = generation
                    infos = await asyncio.to_thread(self.backend.devices)
                    for spec in wanted:
                        self._attach(spec, infos)
                await asyncio.sleep(self.poll)
        finally:
            for task in list(self._readers):
                task.cancel()
            for task in list(self._readers):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _attach(self, spec: str, infos: list[DeviceInfo]) -> None:
        kind, value = parse_spec(spec)
        hits = [i for i in infos if matches(spec, i)]
        if kind == "path" and not hits and os.path.exists(str(value)):
            hits = [DeviceInfo(os.path.realpath(str(value)))]
        if not hits:
            previous = self.states.get(spec)
            if previous is None or previous.state != "gone":
                denied = sum(1 for i in infos if not i.readable)
                self._set(spec, "missing", "not connected" + (
                    f"; {denied} input devices are not readable by this user (see the udev rule)" if denied else ""))
            return
        for info in hits:
            if info.path in self.open_paths:
                continue
            if not info.readable:
                self._set(spec, "denied", f"{info.path}: {info.problem}")
                continue
            try:
                device = self.backend.open(info.path)
            except PermissionError:
                self._set(spec, "denied", f"{info.path}: no permission (see the udev rule)")
                continue
            except OSError as exc:
                self._set(spec, "missing", f"{info.path}: {exc.strerror or exc}")
                continue
            if self.grab:
                try:
                    device.grab()
                except OSError as exc:
                    with contextlib.suppress(Exception):
                        device.close()
                    busy = exc.errno == errno.EBUSY
                    self._set(spec, "busy" if busy else "denied",
                              f"{info.path}: " + ("another program holds it (is a register already running?)"
                                                  if busy else (exc.strerror or str(exc))))
                    continue
            self.open_paths[info.path] = spec
            self._set(spec, "ready", getattr(device, "name", "") or info.name or info.path)
            task = asyncio.get_running_loop().create_task(self._read(spec, info.path, device))
            self._readers.add(task)
            task.add_done_callback(self._readers.discard)

    async def _read(self, spec: str, path: str, device: Device) -> None:
        decoder = ScanDecoder(self.layout, self.timeout)
        name = getattr(device, "name", "") or path
        try:
            async for event in device.async_read_loop():
                code = decoder.feed(event)
                if code:
                    self.on_code(code, name)
        except OSError as exc:
            if decoder.pending:
                log.warning("scanner %s went away mid-scan; %r dropped", name, decoder.pending)
            detail = "unplugged" if exc.errno == errno.ENODEV else (exc.strerror or str(exc))
            self._set(spec, "gone", f"{name}: {detail}")
        finally:
            self.open_paths.pop(path, None)
            self._dirty = True
            with contextlib.suppress(Exception):
                device.close()

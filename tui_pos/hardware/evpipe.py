"""A scanner on a pipe: evdev's real reader fed raw input events, for tests and benchmarks.

evdev's `EventIO` reads `struct input_event` records (`llHHi`) from any file
descriptor, so a pipe stands in for /dev/input/eventN where no device (and no
/dev/uinput) exists. Closing the writing end behaves like unplugging: the next
read raises `OSError(ENODEV)`, as the kernel does for a device that went away.
"""

from __future__ import annotations

import errno
import os
import struct
import time

from evdev.eventio_async import EventIO

from tui_pos.hardware.devices import DeviceInfo
from tui_pos.hardware.keymap import EV_KEY, KEY_ENTER, KEY_LEFTSHIFT, LAYOUTS

EVENT = struct.Struct("llHHi")
EV_SYN = 0


class PipeDevice(EventIO):
    """The reading end of a pipe, read by evdev's own async_read_loop()."""

    def __init__(self, fd: int, name: str, path: str) -> None:
        self.fd = fd
        self.name = name
        self.path = path
        self.grabbed = False
        os.set_blocking(fd, False)

    def grab(self) -> None:
        self.grabbed = True

    def read(self):
        events = list(super().read())
        if not events:
            raise OSError(errno.ENODEV, "No such device")  # the writer closed: unplugged
        return iter(events)

    def close(self) -> None:
        super().close()
        try:
            os.close(self.fd)
        except OSError:
            pass


class PipeScanner:
    """The writing end: types codes the way a USB scanner does."""

    def __init__(self, name: str = "Pipe Scanner", path: str = "/dev/input/pipe0", vendor: int = 0x0c2e,
                 product: int = 0x0b61, layout: str = "us") -> None:
        self.name, self.path, self.vendor, self.product = name, path, vendor, product
        self.layout = LAYOUTS[layout]
        self.read_fd, self.write_fd = os.pipe()
        self.plugged = True

    @property
    def info(self) -> DeviceInfo:
        return DeviceInfo(self.path, self.name, self.vendor, self.product)

    def events_for(self, code: str, *, enter: bool = True) -> bytes:
        """The raw key events (down and up, Shift where needed) of `code` + Enter."""
        reverse: dict[str, tuple[int, bool]] = {}
        for key, (plain, shifted) in self.layout.items():
            reverse.setdefault(plain, (key, False))
            reverse.setdefault(shifted, (key, True))
        now = time.time()
        sec, usec = int(now), int((now % 1) * 1_000_000)
        out = bytearray()

        def put(key: int, value: int) -> None:
            out.extend(EVENT.pack(sec, usec, EV_KEY, key, value))
            out.extend(EVENT.pack(sec, usec, EV_SYN, 0, 0))
        for char in code:
            key, shift = reverse[char]
            if shift:
                put(KEY_LEFTSHIFT, 1)
            put(key, 1)
            put(key, 0)
            if shift:
                put(KEY_LEFTSHIFT, 0)
        if enter:
            put(KEY_ENTER, 1)
            put(KEY_ENTER, 0)
        return bytes(out)

    def scan(self, code: str, *, enter: bool = True) -> None:
        os.write(self.write_fd, self.events_for(code, enter=enter))

    def unplug(self) -> None:
        if self.plugged:
            os.close(self.write_fd)
            self.plugged = False


class PipeBackend:
    """Discovery over a set of pipe scanners that tests plug and unplug."""

    def __init__(self, *scanners: PipeScanner) -> None:
        self.scanners: dict[str, PipeScanner] = {s.path: s for s in scanners}
        self.opened: list[PipeDevice] = []

    def plug(self, scanner: PipeScanner) -> None:
        self.scanners[scanner.path] = scanner

    def unplug(self, path: str) -> None:
        scanner = self.scanners.pop(path)
        scanner.unplug()

    def generation(self) -> object:
        return tuple(sorted((p, id(s)) for p, s in self.scanners.items()))

    def devices(self) -> list[DeviceInfo]:
        return [s.info for s in self.scanners.values()]

    def open(self, path: str) -> PipeDevice:
        scanner = self.scanners.get(path)
        if scanner is None:
            raise OSError(errno.ENOENT, "No such file or directory")
        device = PipeDevice(os.dup(scanner.read_fd), scanner.name, path)
        self.opened.append(device)
        return device

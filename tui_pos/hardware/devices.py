"""An input device as discovery sees it: shared by the evdev scanner and the pipe reader."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceInfo:
    """An input device as discovery sees it."""

    path: str
    name: str = ""
    vendor: int = 0
    product: int = 0
    has_enter: bool = True
    readable: bool = True
    problem: str = ""          # why it could not be opened (permission...)

    @property
    def usb_id(self) -> str:
        return f"{self.vendor:04x}:{self.product:04x}"

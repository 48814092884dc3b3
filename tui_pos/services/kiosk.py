"""Kiosk boot: the register starts on a console (tty1) at boot, restarts when it exits, and offers no shell.

Two files, both under /etc/systemd/system:

- `tui-pos-kiosk.service` logs the register's user in on the tty (PAMName=login,
  a real login session, as getty's autologin would make) and runs tui-pos there
  in place of a shell; Restart=always brings it back if it exits or crashes.
- `getty@ttyN.service.d/tui-pos-kiosk.conf` overrides the getty of that tty so it
  gives way to the register: no login prompt, and so no shell, on that console.

`render()` is pure (tests read it); `install()`/`uninstall()` write under `root`
(normally "/") and run systemctl only on the real system.
"""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "tui-pos-kiosk.service"


class KioskError(Exception):
    """Cannot install or remove the kiosk; the message says what to do. Nothing was changed."""


@dataclass(frozen=True)
class KioskFile:
    path: str       # absolute, as on the target system
    text: str


def check_tty(tty: int) -> int:
    if not 1 <= tty <= 12:
        raise KioskError(f"--tty {tty}: expected a console number from 1 to 12 (tty1 is the first screen)")
    return tty


def render(user: str, tty: int, command: list[str], config: str | None = None) -> list[KioskFile]:
    """The unit and the getty override for `user` on tty`tty`, running `command`."""
    check_tty(tty)
    env = ["Environment=TERM=linux"]
    if config:
        env.append(f"Environment={shlex.quote('TUI_POS_CONFIG=' + config)}")
    unit = "\n".join([
        "# Written by `tui-pos kiosk install`; removed by `tui-pos kiosk uninstall`.",
        "[Unit]",
        f"Description=tui-pos register on tty{tty}",
        "After=systemd-user-sessions.service network-online.target postgresql.service",
        "Wants=network-online.target",
        f"Conflicts=getty@tty{tty}.service",
        f"After=getty@tty{tty}.service",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        f"User={user}",
        "PAMName=login",
        f"TTYPath=/dev/tty{tty}",
        "TTYReset=yes",
        "TTYVHangup=yes",
        "TTYVTDisallocate=yes",
        "StandardInput=tty",
        "StandardOutput=tty",
        "StandardError=journal",
        f"UtmpIdentifier=tty{tty}",
        "UtmpMode=user",
        *env,
        f"ExecStart={shlex.join(command)}",
        "Restart=always",
        "RestartSec=2",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])
    getty = "\n".join([
        "# Written by `tui-pos kiosk install`: the register owns this console, so its getty",
        "# gives way (no login prompt, no shell here). Removed by `tui-pos kiosk uninstall`.",
        "[Unit]",
        f"Conflicts={UNIT_NAME}",
        f"ConditionPathExists=!/etc/systemd/system/{UNIT_NAME}",
        "",
    ])
    return [KioskFile(f"/etc/systemd/system/{UNIT_NAME}", unit),
            KioskFile(f"/etc/systemd/system/getty@tty{tty}.service.d/tui-pos-kiosk.conf", getty)]


def commands_after_install(tty: int) -> list[list[str]]:
    return [["systemctl", "daemon-reload"], ["systemctl", "enable", UNIT_NAME]]


def check_user(user: str) -> None:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise KioskError(f"there is no user {user!r}: create it first, e.g. `sudo useradd -m -G input {user}` "
                         "(docs/kiosk.md); nothing was changed") from None
    if entry.pw_uid == 0:
        raise KioskError("the register must not run as root: pick an ordinary user with --user; nothing was changed")


def _target(root: str, path: str) -> Path:
    return Path(root) / path.lstrip("/")


def install(files: list[KioskFile], tty: int, *, root: str = "/") -> list[str]:
    """Write the files (and on the real system enable the unit); returns what was done, line by line."""
    if root == "/" and os.geteuid() != 0:
        raise KioskError("kiosk install changes /etc/systemd: run it as root "
                         "(sudo tui-pos kiosk install ...); nothing was changed")
    done = []
    for f in files:
        target = _target(root, f.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text, encoding="utf-8")
        except OSError as exc:
            raise KioskError(f"cannot write {target}: {exc.strerror or exc}") from None
        done.append(f"wrote {target}")
    if root == "/":
        for cmd in commands_after_install(tty):
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                raise KioskError(f"{' '.join(cmd)} failed: {' '.join(result.stderr.split())}")
            done.append("ran " + " ".join(cmd))
    return done


def uninstall(*, root: str = "/") -> list[str]:
    """Remove every file `install` wrote, on any tty; returns what was done."""
    if root == "/" and os.geteuid() != 0:
        raise KioskError("kiosk uninstall changes /etc/systemd: run it as root "
                         "(sudo tui-pos kiosk uninstall); nothing was changed")
    done = []
    base = _target(root, "/etc/systemd/system")
    unit = base / UNIT_NAME
    if root == "/" and unit.exists():
        subprocess.run(["systemctl", "disable", UNIT_NAME], capture_output=True, text=True)
        done.append(f"ran systemctl disable {UNIT_NAME}")
    targets = [unit] + sorted(base.glob("getty@tty*.service.d/tui-pos-kiosk.conf"))
    for target in targets:
        if target.exists():
            target.unlink()
            done.append(f"removed {target}")
            if target.parent.name.endswith(".service.d") and not any(target.parent.iterdir()):
                target.parent.rmdir()
    if root == "/" and done:
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True, text=True)
        done.append("ran systemctl daemon-reload")
    return done or ["nothing to remove: the kiosk is not installed"]


__all__ = ["KioskError", "KioskFile", "UNIT_NAME", "check_tty", "check_user", "install", "render", "uninstall"]

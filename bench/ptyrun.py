"""Drive a full-screen program in a real pseudo-terminal and time what it paints."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time


class PtyApp:
    """A process on a pty of `cols` x `rows`; output is read as it arrives."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, cols: int = 120, rows: int = 40) -> None:
        self.start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.execvpe(argv[0], argv, {**os.environ, **(env or {}), "TERM": "xterm-256color",
                                       "COLUMNS": str(cols), "LINES": str(rows)})
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.buffer = bytearray()

    def read_until(self, marker: bytes, timeout: float = 30.0, since: int = 0) -> float:
        """Seconds from now until `marker` appears in the output after offset `since`."""
        t0 = time.perf_counter()
        deadline = t0 + timeout
        while marker not in self.buffer[since:]:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{marker!r} not seen; last output {bytes(self.buffer[-300:])!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    self.buffer += os.read(self.fd, 65536)
                except OSError:
                    raise TimeoutError("the program exited") from None
        return time.perf_counter() - t0

    def drain(self, quiet: float = 0.15) -> None:
        """Read until the program has been silent for `quiet` seconds."""
        while True:
            ready, _, _ = select.select([self.fd], [], [], quiet)
            if not ready:
                return
            try:
                self.buffer += os.read(self.fd, 65536)
            except OSError:
                return

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def peak_rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.fd)

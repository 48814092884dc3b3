"""The terminal driver: Textual's Linux driver, with keys handed to the app a burst at a time.

Textual's driver reads the terminal in a thread and hands each key to the
app's event loop on its own (a coroutine scheduled across threads per key).
On a thin client's two slow cores that costs about a millisecond a key: a
scanner stuck in the wrong mode, or a stuck key, sending 20,000 characters
kept the register busy for 20 to 40 seconds after the flood stopped. This
driver queues what the thread reads and wakes the loop once for all the keys
waiting, which then go to the app in order through its public
`post_message`. Nothing else of the driver changes.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message


class BatchingLinuxDriver(LinuxDriver):
    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.target = app
        self.event_loop = asyncio.get_running_loop()
        self.lock = threading.Lock()
        self.waiting: list[Message] = []
        self.wake_pending = False

    def send_message(self, message: Message) -> None:
        with self.lock:
            self.waiting.append(message)
            if self.wake_pending:
                return
            self.wake_pending = True
        self.event_loop.call_soon_threadsafe(self.deliver)

    def deliver(self) -> None:
        """In the event loop: every message waiting, in the order the terminal sent them."""
        with self.lock:
            batch, self.waiting = self.waiting, []
            self.wake_pending = False
        for message in batch:
            self.target.post_message(message)

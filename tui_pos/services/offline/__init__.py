"""Selling while the server is away (issue 24, docs/offline.md): the register's replica, the switch to it and
back, the journal's sync, and the cap on points spent offline.

`Offline` is built once by the composition root for a register on PostgreSQL. The app calls `go_offline()`
when a call finds the server unreachable (the database proxy then points at the replica, for every thread not
routed elsewhere), `sync()` once its probe reaches the server again, then `go_online()`; `cycle()` runs in a
worker while online (sync what is pending, tidy the replica, refresh it from the server's change log).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import Database, fn

from tui_pos.models import LoyaltyMovement, db
from tui_pos.models.db import open_database
from tui_pos.services.offline import replica, sync
from tui_pos.services.offline.replica import JournalState

log = logging.getLogger(__name__)

_SEQ = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class Settings:
    """`[offline]` of the config."""

    enabled: bool = True
    replica: str = ""              # the replica's path (default: replica-<register>.sqlite in the data dir)
    redeem_cap: int = 500          # points one customer may spend on this register between two syncs
    refresh_every: float = 20.0    # seconds between two refreshes of the replica while online


class Offline:
    """One register's replica and journal, and whether it is selling on them now (`active`)."""

    def __init__(self, settings: Settings, register: str, server: Database, *, fiscal: Any = None) -> None:
        self.settings = settings
        self.register = register
        self.server = server
        self.fiscal = fiscal
        self.active = False
        self.customer_map: dict[int, int] = {}    # customers made offline: replica id -> server id
        self.made_offline: set[int] = set()       # replica ids of customers made offline (sent or not)
        self._replica_db: Database | None = None
        self._lock = threading.Lock()             # one writer of the replica's bookkeeping at a time
        self._counter: Any = None                 # the connection `seen_receipt` keeps (one per register)
        self._counter_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return Path(self.settings.replica)

    # ------------------------------------------------------------ the switch

    def ready(self) -> bool:
        """A whole replica is there to sell on."""
        return self.path.exists()

    def replica_database(self) -> Database:
        if self._replica_db is None:
            self._replica_db = open_database(f"sqlite:///{self.path}")
        return self._replica_db

    def go_offline(self) -> bool:
        """Sell on the replica from now on (False: there is none yet)."""
        if not self.ready():
            return False
        # a new stay offline: the replica was tidied and refreshed since the last one, so its ids of customers
        # made then are other people's now (the note carried back after the last stay has gone back already)
        self.customer_map.clear()
        self.made_offline.clear()
        db.initialize(self.replica_database())
        self.active = True
        replica.mark_selling(self.path, True)     # `tui-pos sync` in another process leaves it alone
        log.warning("offline: selling on the replica %s", self.path)
        return True

    def go_online(self) -> None:
        db.initialize(self.server)
        self.active = False
        replica.mark_selling(self.path, False)
        log.warning("online again: selling on the server")

    # ------------------------------------------------------------ the replica's life

    def build(self, progress: Any = None) -> replica.Built:
        with self._lock, db.routed(self.server, fresh=True):
            built = replica.build(self.path, self.server, progress, register=self.register)
        with self._counter_lock:         # the counter's connection is to the file replaced
            if self._counter is not None:
                self._counter.close()
                self._counter = None
        return built

    def state(self) -> JournalState:
        return replica.state(self.path)

    def pending_sales(self) -> int:
        if not self.ready():
            return 0
        return self.state().pending_sales

    def sync(self, *, limit: int | None = None) -> sync.Report:
        """Send the journal (from any thread: this one talks to the server for the while)."""
        with self._lock, db.routed(self.server, fresh=True):
            conn = replica.connect(self.path)
            try:
                replica.ensure_journal(conn)
                report = sync.send(conn, self.register, fiscal=self.fiscal, limit=limit)
                sync.settle_left_notes(conn, self.register)
                self.customer_map.update(sync.customer_map(conn))
                self.made_offline |= sync.made_offline(conn)
                return report
            finally:
                conn.close()

    def retry_failed(self) -> int:
        """The entries the server refused, tried again by the next sync."""
        conn = replica.connect(self.path)
        try:
            replica.ensure_journal(conn)
            return replica.retry_failed(conn)
        finally:
            conn.close()

    def cycle(self) -> replica.Refreshed | None:
        """While online: the journal sent, the replica tidied and refreshed (None: nothing done now)."""
        if self.active:
            return None
        if not self.ready():
            self.build()
            return None
        if self.state().pending:
            self.sync()
        with self._lock, db.routed(self.server, fresh=True):
            conn = replica.connect(self.path)
            try:
                replica.ensure_journal(conn)
                if replica.pending(conn) or replica.failed(conn) or replica.selling_elsewhere(conn) is not None:
                    return None
                try:
                    # checked again under the replica's write lock: the register may go offline meanwhile
                    if conn.execute("SELECT 1 FROM journal UNION ALL SELECT 1 FROM note LIMIT 1").fetchone():
                        replica.purge(conn, lambda: self.active)
                    return replica.refresh(conn, self.server, register=self.register,
                                           selling_here=lambda: self.active)
                except replica.JournalPending:     # a sale made offline meanwhile, or selling on it now
                    return None
            finally:
                conn.close()

    def seen_receipt(self, receipt_no: str) -> None:
        """A receipt numbered online: the replica's counter goes past it, so an offline sale never takes a
        number the server has (a crash before this leaves a clash the sync renumbers and reports)."""
        found = _SEQ.search(receipt_no)
        if found is None or not self.ready():
            return
        seq = int(found.group(1))
        with self._counter_lock:
            # one connection kept open, and no fsync of its own (synchronous=NORMAL in WAL): on the sale's
            # path this costs well under a millisecond; a power cut that loses it leaves a clash the sync
            # renumbers and reports
            if self._counter is None:
                self._counter = replica.connect(self.path)
                self._counter.execute("PRAGMA synchronous = normal")
            try:
                self._counter.execute("UPDATE register SET next_seq = ? WHERE code = ? AND next_seq <= ?",
                                      (seq + 1, self.register, seq))
            except Exception:
                self._counter.close()      # a replica rebuilt under it: the next sale opens the new file
                self._counter = None
                raise

    def server_customer(self, replica_id: int) -> int | None:
        """The server's row of a customer the replica has (None: made offline and not on the server yet)."""
        if replica_id in self.customer_map:
            return self.customer_map[replica_id]
        return None if replica_id in self.made_offline else replica_id

    # ------------------------------------------------------------ points offline

    def spendable(self, customer_id: int, balance: int) -> int:
        """What a customer may spend on this register now, offline: the balance the server last said, less
        what they spent here since the last sync, within `redeem_cap` (run on the replica)."""
        moved = dict(LoyaltyMovement.select(LoyaltyMovement.kind, fn.SUM(LoyaltyMovement.points))
                     .where(LoyaltyMovement.customer == customer_id).group_by(LoyaltyMovement.kind).tuples())
        spent = -sum(int(moved.get(kind) or 0) for kind in ("redeem", "offer"))
        server_balance = balance - sum(int(v or 0) for v in moved.values())
        return max(0, min(server_balance, self.settings.redeem_cap) - spent)

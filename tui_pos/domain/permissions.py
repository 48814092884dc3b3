"""Who may do what: one table of actions, each with the least role that may do it.

The defaults follow the seeds: a cashier sells, creates a customer from a phone
at the counter (seed 001) and fills in what a record lacks; changing an existing
customer's record needs "an specific role" (seed 003), a manager by default; so
do overrides, refunds, the drawer, loyalty, messages and the close of day.
`[permissions]` in config.toml moves any action to another role
(``refund = "cashier"``). Pure rules: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ROLES = ("cashier", "manager", "admin")   # each may do what the ones before it may
_RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Action:
    key: str
    words: str      # what the cashier reads: "changing a price" (never a field name)
    role: str       # the least role that may do it, by default


ACTIONS: tuple[Action, ...] = (
    Action("customer_edit", "changing a customer's record", "manager"),
    Action("customer_fiscal", "changing a customer's fiscal data, groups, rate or status", "manager"),
    Action("discount", "a discount above the cashier's limit", "manager"),
    Action("discount_lower", "replacing the customer's own discount with a smaller one", "manager"),
    Action("price_override", "changing a price", "manager"),
    Action("void_line", "removing a line after payment started", "manager"),
    Action("cancel_note", "cancelling a note", "manager"),
    Action("closed_customer", "selling to a closed customer", "manager"),
    Action("defaulter", "taking a defaulter's payment", "manager"),
    Action("refund", "a refund", "manager"),
    Action("drawer", "opening the cash drawer", "manager"),
    Action("loyalty_adjust", "adding or removing points", "manager"),
    Action("loyalty_settings", "opening the loyalty statistics and settings", "manager"),
    Action("messages", "opening messages and campaigns", "manager"),
    Action("fiscal", "opening the electronic invoices", "manager"),
    Action("expected_cash", "seeing the expected cash before the count", "manager"),
    Action("close_day", "closing the day", "manager"),
    Action("quit", "quitting tui-pos", "manager"),
)
BY_KEY = {a.key: a for a in ACTIONS}
DEFAULTS = {a.key: a.role for a in ACTIONS}


def rank(role: str) -> int:
    """Where a role stands; an unknown role stands below a cashier."""
    return _RANK.get(role, -1)


@dataclass(frozen=True)
class Permissions:
    """The table in force: action -> least role."""

    least: Mapping[str, str]

    @classmethod
    def from_table(cls, table: Mapping[str, str] | None = None) -> Permissions:
        merged = dict(DEFAULTS)
        for key, role in (table or {}).items():
            if key not in BY_KEY:
                raise ValueError(f"unknown action {key!r}; expected one of {', '.join(BY_KEY)}")
            if role not in _RANK:
                raise ValueError(f"unknown role {role!r} for {key}; expected one of {', '.join(ROLES)}")
            merged[key] = role
        return cls(merged)

    def role_for(self, action: str) -> str:
        return self.least.get(action, DEFAULTS.get(action, "manager"))

    def allows(self, role: str | None, action: str) -> bool:
        return role is not None and rank(role) >= rank(self.role_for(action))

    def needs_approval(self, action: str) -> bool:
        """True when a cashier cannot do it alone."""
        return rank(self.role_for(action)) > rank("cashier")

    def prompt(self, action: str) -> str:
        """The PIN prompt's words: "Changing a price needs a manager PIN."."""
        words = BY_KEY[action].words if action in BY_KEY else action.replace("_", " ")
        role = self.role_for(action)
        article = "an" if role[0] in "aeiou" else "a"
        return f"{words[0].upper()}{words[1:]} needs {article} {role} PIN."

    def may(self, role: str | None) -> list[Action]:
        """The gated actions a role may do, in the table's order (F1 lists them)."""
        return [a for a in ACTIONS if self.allows(role, a.key)]

    def may_not(self, role: str | None) -> list[Action]:
        return [a for a in ACTIONS if not self.allows(role, a.key)]

    def describe(self, role: str | None, width: int = 76) -> list[str]:
        """What a role may do alone and whose PIN the rest needs, wrapped at `width` (F1 shows it)."""
        import textwrap
        lines: list[str] = []
        mine = self.may(role)
        lines += textwrap.wrap("Yours alone: selling, payments, creating customers, filling in what a record "
                               "lacks, discounts within the cashier's limit"
                               + "".join(f", {a.words}" for a in mine) + ".", width)
        for other in ROLES:
            needs = [a.words for a in self.may_not(role) if self.role_for(a.key) == other]
            if needs:
                lines += textwrap.wrap(f"Needs {'an' if other[0] in 'aeiou' else 'a'} {other} PIN: "
                                       + ", ".join(needs) + ".", width)
        return lines


DEFAULT = Permissions.from_table()

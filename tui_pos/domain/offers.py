"""The Offer tab's limits as pure rules: what points and stamp rewards are left, and what one more unit may be.

The screen (screens/loyalty.OfferScreen) draws these and sends the picks to the service; it computes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class PointsLine(Protocol):
    """A note line that can be given for points."""

    line_id: int
    qty: int
    points_cost: int


class RewardLine(Protocol):
    """A note line whose product is a stamp offer's reward."""

    line_id: int
    qty: int
    offer: str
    available: int


@dataclass
class OfferPicks:
    """Units offered for points and rewards given, per line, within the balance and the rewards held."""

    balance: int
    """The customer's points, less what F4 already redeems on this note."""
    lines: list[PointsLine]
    """The lines that can be given for points."""
    rewards: list[RewardLine]
    """The lines that a stamp reward can pay for."""
    offered: dict[int, int] = field(default_factory=dict)
    """Units offered for points, by line id."""
    given: dict[int, int] = field(default_factory=dict)
    """Rewards given, by line id."""

    @property
    def points_left(self) -> int:
        return self.balance - sum(ln.points_cost * self.offered.get(ln.line_id, 0) for ln in self.lines)

    def rewards_left(self, offer: str) -> int:
        held = next(r.available for r in self.rewards if r.offer == offer)
        return held - sum(self.given.get(r.line_id, 0) for r in self.rewards if r.offer == offer)

    def toggle_points(self, line: PointsLine) -> bool:
        """One more unit offered for points, or back to none when no more may be; False: nothing changed."""
        n = self.offered.get(line.line_id, 0)
        if n < line.qty - self.given.get(line.line_id, 0) and line.points_cost <= self.points_left:
            self.offered[line.line_id] = n + 1
        elif n:
            self.offered[line.line_id] = 0
        else:
            return False
        return True

    def toggle_reward(self, line: RewardLine) -> bool:
        """One more unit paid by a reward, or back to none; False: nothing changed."""
        n = self.given.get(line.line_id, 0)
        if n < line.qty - self.offered.get(line.line_id, 0) and self.rewards_left(line.offer) > 0:
            self.given[line.line_id] = n + 1
        elif n:
            self.given[line.line_id] = 0
        else:
            return False
        return True

    def points_state(self, line: PointsLine) -> str:
        """The line's state word: Offered (xN), Offer, or why it may not be."""
        n = self.offered.get(line.line_id, 0)
        if n:
            return f"Offered x{n}" if line.qty > 1 else "Offered"
        return "not enough points" if line.points_cost > self.points_left else "Offer"

    def reward_state(self, line: RewardLine) -> str:
        n = self.given.get(line.line_id, 0)
        if n:
            return f"Offered x{n}" if line.qty > 1 else "Offered"
        return "Offer" if self.rewards_left(line.offer) > 0 else "no reward left"

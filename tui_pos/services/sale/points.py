"""Points at the register: the note's loyalty state, money off with points, units offered for points."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tui_pos.domain import pricing
from tui_pos.domain.errors import InputError
from tui_pos.models import Note, NoteLine, db
from tui_pos.services import loyalty
from tui_pos.services.loyalty import NoteLoyalty, OfferLine
from tui_pos.services.sale.base import SaleBase
from tui_pos.services.sale.views import Summary
from tui_pos.services.store import notes
from tui_pos.services.store.notes import NoteRecord


class NotePoints(SaleBase):
    """Redeeming and offering points on a note (debited when the sale completes)."""

    def loyalty(self, note_id: int) -> NoteLoyalty | None:
        """Balance, tier and what the note will earn (None without customer or program)."""
        return loyalty.note_loyalty(self._note(note_id, editable=False), self.point_of_sale)

    def loyalty_required(self, note_id: int) -> NoteLoyalty:
        """The note's loyalty state, or InputError saying what is missing (no customer, no program)."""
        return self._loyalty_state(self._note(note_id))

    def _loyalty_state(self, note: NoteRecord, earn: tuple[Any, Any] | None = None,
                       balance: int | None = None) -> NoteLoyalty:
        if not note.customer_id:
            raise InputError("Attach a customer first (F2): points belong to a customer.")
        state = loyalty.note_loyalty(note, self.point_of_sale, earn=earn, balance=balance)
        if state is None:
            raise InputError("No loyalty program yet: import one with `tui-pos import loyalty FILE.toml`.")
        if self.selling_offline:
            # offline, a customer spends at most [offline] redeem_cap here until the next sync (issue 24)
            return replace(state, balance=self.offline.spendable(note.customer_id, state.balance))
        return state

    def redeem(self, note_id: int, points: int | None = None, *, preset: int | None = None) -> Summary:
        """F4: money off with points. None redeems the most allowed; `preset` is 1-9; 0 points removes it.

        Checked against the balance now; debited when the sale completes (in its transaction).
        """
        with db.atomic():
            note = self._checked(notes.note_and_balance(note_id))
            earn = loyalty.earn_lines(note_id)
            state = self._loyalty_state(note, earn if note.customer_id else None, note.balance)
            prog = state.program
            priced, paid = [loyalty.priced(r) for r in earn[1]], note.paid_now   # the same rows
            if paid:
                raise InputError("Payment has started on this note: points can no longer be redeemed.")
            total = pricing.note_totals(priced, (), 0).total_cents  # without any redemption
            balance = state.balance - state.offered_points
            if points == 0:
                notes.set_redeemed(note_id, 0, 0)
                return Summary(note_id, pricing.note_totals(priced, (), 0), paid)
            if preset is not None:
                if not 1 <= preset <= len(prog.presets):
                    raise InputError(f"There is no preset {preset}: the program has {len(prog.presets)}.")
                chosen = prog.presets[preset - 1]
                points, value = chosen.points, chosen.value_cents
                problem = prog.check_redemption(points, value, balance, total)
                if problem and not problem.startswith("Points are redeemed in steps"):
                    raise InputError(problem)
            else:
                if points is None:
                    points = prog.most_redeemable(balance, total)
                    if not points:
                        raise InputError(f"Nothing to redeem: {balance} points available, at least {prog.minimum} "
                                         "needed, within the note's total.")
                value = prog.value_of(points)
                problem = prog.check_redemption(points, value, balance, total)
                if problem:
                    raise InputError(problem)
            notes.set_redeemed(note_id, points, value)
            return Summary(note_id, pricing.note_totals(priced, (), value), paid)

    def offer_lines(self, note_id: int) -> list[OfferLine]:
        return loyalty.offer_lines(note_id)

    def can_offer(self, note_id: int) -> bool:
        """The Offer tab opens on F10: a line the customer can afford, and no payment taken yet (once
        payment has started, `set_offers` refuses, so the tab would only be in the way)."""
        if self._paid(note_id):
            return False
        return loyalty.can_offer(self._note(note_id, editable=False), self.point_of_sale)

    def reward_lines(self, note_id: int) -> list[Any]:
        """Lines that can be given as stamp-offer rewards the customer holds."""
        note = self._note(note_id, editable=False)
        if not note.customer_id:
            return []
        from tui_pos.services import stamps
        return list(stamps.reward_lines(note_id, note.customer_id, loyalty.program()))

    def set_offers(self, note_id: int, offered: dict[int, int], rewards: dict[int, int] | None = None) -> Summary:
        """The Offer tab's Enter: units of each line given for points, and as stamp rewards."""
        with db.atomic():
            note = self._note(note_id)
            state = self._loyalty_state(note)
            if self._paid(note_id):
                raise InputError("Payment has started on this note: nothing more can be offered.")
            if rewards:
                from tui_pos.services import stamps
                assert note.customer_id is not None   # _loyalty_state refuses a note without one
                NoteLine.update(reward_qty=0, reward_offer="").where(NoteLine.note == note_id).execute()
                stamps.set_rewards(note_id, note.customer_id, state.program, rewards)
            for line_id, qty in offered.items():
                free = NoteLine.select(NoteLine.qty - NoteLine.reward_qty).where(NoteLine.id == line_id).scalar()
                if free is not None and qty > free:
                    raise InputError("A unit cannot be both offered for points and given as a reward.")
            lines = {ln.line_id: ln for ln in loyalty.offer_lines(note_id)}
            for line_id, qty in offered.items():
                line = lines.get(line_id)
                if line is None:
                    raise InputError("That line cannot be offered (its product has no points cost).")
                if not 0 <= qty <= line.qty:
                    raise InputError(f"{line.name}: offer from 0 to {line.qty} units.")
            # every offered unit of the note counts, not only the lines being changed
            cost = sum(offered.get(ln.line_id, ln.offered_qty) * ln.points_cost for ln in lines.values())
            if cost + state.redeem_points > state.balance:
                raise InputError(f"That costs {cost} points; the customer has {state.balance - state.redeem_points} "
                                 "available.")
            for line_id, qty in offered.items():
                NoteLine.update(offered_qty=qty).where(NoteLine.id == line_id).execute()
            if state.redeem_points:
                # the note got cheaper: keep the redemption within it
                total = pricing.note_totals([ln.priced() for ln in notes.lines(note_id)]).total_cents
                if state.redeem_cents > total:
                    Note.update(redeem_points=0, redeem_cents=0).where(Note.id == note_id).execute()
            return self.summary(note_id)

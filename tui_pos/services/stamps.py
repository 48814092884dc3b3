"""Stamp offers (seeds 001, 004): every `count` units bought earn one reward unit.

Each customer's progress is kept per offer (offers in progress) and each
reward reached is recorded (offers reached). A reward is given at the register
like a points offer: the reward product's unit costs 0 on the note.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import JOIN

from tui_pos.domain.errors import BalanceChanged, InputError
from tui_pos.domain.loyalty import Program, StampOffer
from tui_pos.models import NoteLine, Product, Section, StampCard, StampEvent, db, local_time


@dataclass(frozen=True)
class RewardLine:
    """A note line whose product is some offer's reward, with the rewards the customer holds."""

    line_id: int
    name: str
    qty: int            # units on the line not given for points
    reward_qty: int
    offer: str
    available: int      # rewards the customer holds for that offer (before this note)


@dataclass(frozen=True)
class Progress:
    offer: str
    units: int
    count: int
    rewards: int


def _card(customer_id: int, offer: str) -> StampCard:
    card, _ = StampCard.get_or_create(customer=customer_id, offer=offer)
    return card


def _matches(offer: StampOffer, sku: str, section: str) -> bool:
    return bool(offer.sku and sku == offer.sku) or bool(offer.section and section == offer.section)


def progress(customer_id: int, program: Program | None) -> list[Progress]:
    if program is None or not program.offers:
        return []
    cards = {c.offer: c for c in StampCard.select().where(StampCard.customer == customer_id)}
    return [Progress(o.name, cards[o.name].units if o.name in cards else 0, o.count,
                     cards[o.name].rewards if o.name in cards else 0) for o in program.offers]


def reward_lines(note_id: int, customer_id: int, program: Program | None) -> list[RewardLine]:
    if program is None or not program.offers:
        return []
    held = {c.offer: c.rewards for c in StampCard.select().where(StampCard.customer == customer_id)}
    out = []
    for line in NoteLine.select().where(NoteLine.note == note_id, NoteLine.qty > 0).order_by(NoteLine.id):
        for offer in program.offers:
            if line.sku == offer.reward_sku and (held.get(offer.name, 0) or line.reward_qty):
                out.append(RewardLine(line.id, line.name, line.qty - line.offered_qty, line.reward_qty, offer.name,
                                      held.get(offer.name, 0)))
                break
    return out


def set_rewards(note_id: int, customer_id: int, program: Program, rewards: dict[int, int]) -> None:
    """Give `rewards` ({line id: units}) as stamp rewards; within what the customer holds."""
    lines = {r.line_id: r for r in reward_lines(note_id, customer_id, program)}
    use: dict[str, int] = {}
    for line_id, qty in rewards.items():
        line = lines.get(line_id)
        if line is None:
            raise InputError("That line is not a reward of any stamp offer the customer holds.")
        if not 0 <= qty <= line.qty:
            raise InputError(f"{line.name}: give from 0 to {line.qty} units as rewards.")
        use[line.offer] = use.get(line.offer, 0) + qty
    for offer, n in use.items():
        held = next(r.available for r in lines.values() if r.offer == offer)
        if n > held:
            raise InputError(f"The customer holds {held} reward(s) of {offer!r}, not {n}.")
    for line_id, qty in rewards.items():
        NoteLine.update(reward_qty=qty, reward_offer=lines[line_id].offer if qty else "").where(
            NoteLine.id == line_id).execute()


def event_key(receipt_no: str, kind: str, offer: str) -> str:
    """A stamp event's unique key: one event per receipt, kind and offer (migration 18 keyed the older ones)."""
    return f"{receipt_no}:{kind}:{offer}"


def settle(note_id: int, customer_id: int, program: Program, receipt_no: str, *, sales_mode: str = "",
           point_of_sale: str = "") -> list[str]:
    """In the sale's transaction: use the rewards given, count the units bought. Returns rewards reached.

    Units bought count toward an offer only where it applies (its sales modes and points of sale, seed 004);
    a reward held is given wherever the customer is."""
    reached_names = []
    rows = list(NoteLine.select(NoteLine, Section.name.alias("section_name"))
                .join(Product, on=(NoteLine.product == Product.id))
                .join(Section, JOIN.LEFT_OUTER, on=(Product.section == Section.id))
                .where(NoteLine.note == note_id).objects())
    for offer in program.offers:
        used = sum(r.reward_qty for r in rows if r.reward_offer == offer.name)
        bought = sum(r.qty - r.offered_qty - r.reward_qty for r in rows
                     if _matches(offer, r.sku, getattr(r, "section_name", "") or "")
                     ) if offer.applies(sales_mode, point_of_sale) else 0
        if not used and not bought:
            continue
        card = _card(customer_id, offer.name)
        if used:
            changed = StampCard.update(rewards=StampCard.rewards - used).where(
                StampCard.id == card.id, StampCard.rewards >= used).execute()
            if changed != 1:
                raise BalanceChanged(f"The customer no longer holds {used} reward(s) of {offer.name!r}.")
            StampEvent.create(customer=customer_id, offer=offer.name, kind="used", rewards=-used, receipt_no=receipt_no,
                              key=event_key(receipt_no, "used", offer.name))
        if bought:
            card = StampCard.get_by_id(card.id)
            units = card.units + bought
            reached = units // offer.count
            StampCard.update(units=units - reached * offer.count, rewards=StampCard.rewards + reached).where(
                StampCard.id == card.id).execute()
            StampEvent.create(customer=customer_id, offer=offer.name, kind="progress", units=bought,
                              receipt_no=receipt_no, key=event_key(receipt_no, "progress", offer.name))
            if reached:
                StampEvent.create(customer=customer_id, offer=offer.name, kind="reached", rewards=reached,
                                  receipt_no=receipt_no, key=event_key(receipt_no, "reached", offer.name))
                reached_names.append(f"{reached} x {offer.name}")
    return reached_names


def reverse(sale_lines: list[NoteLine], picks: dict[int, int], customer_id: int, program: Program,
            refund_no: str, sale_receipt_no: str | None = None) -> None:
    """A return: returned bought units come off the progress, returned reward units give the reward back.

    With `sale_receipt_no`, units come off an offer only when the sale counted them (an offer limited to
    some sales modes or points of sale did not count a sale made elsewhere)."""
    sections = {p.id: (p.section.name if p.section_id else "") for p in
                Product.select().where(Product.id.in_([ln.product_id for ln in sale_lines if ln.product_id]))}
    with db.atomic():
        for offer in program.offers:
            back_units = back_rewards = 0
            for ln in sale_lines:
                n = picks.get(ln.id, 0)
                if not n:
                    continue
                free = ln.offered_qty + ln.reward_qty
                # units come back in proportion: paid, points-offered and reward units alike
                rewards_back = n * ln.reward_qty // ln.qty if ln.reward_offer == offer.name else 0
                paid_back = n * (ln.qty - free) // ln.qty
                back_rewards += rewards_back
                if _matches(offer, ln.sku, sections.get(ln.product_id, "")):
                    back_units += paid_back
            if back_units and sale_receipt_no is not None and not StampEvent.select().where(
                    StampEvent.customer == customer_id, StampEvent.offer == offer.name,
                    StampEvent.kind == "progress", StampEvent.receipt_no == sale_receipt_no).exists():
                back_units = 0
            if not back_units and not back_rewards:
                continue
            card = _card(customer_id, offer.name)
            units, rewards = card.units - back_units, card.rewards + back_rewards
            while units < 0 and rewards > 0:   # a reward reached with units now returned
                units += offer.count
                rewards -= 1
            StampCard.update(units=units, rewards=rewards).where(StampCard.id == card.id).execute()
            StampEvent.create(customer=customer_id, offer=offer.name, kind="return", units=-back_units,
                              rewards=back_rewards, receipt_no=refund_no,
                              key=event_key(refund_no, "return", offer.name))


# ---------------------------------------------------------------- a customer's offers (seed 001)

@dataclass(frozen=True)
class InProgress:
    """Seed 001's "offers in progress": how far the current card is, and the receipts that filled it."""

    offer: str
    units: int
    count: int
    receipts: tuple[str, ...]


@dataclass(frozen=True)
class Reached:
    """Seed 001's "offers already reached": when, the orders that earned it, where the reward was taken."""

    offer: str
    at: object
    receipt_no: str                 # the sale that completed the card
    orders: tuple[str, ...]         # every sale whose units filled it, oldest first
    taken_on: str = ""              # the receipt where the reward was given ("": still held)


@dataclass(frozen=True)
class Order:
    receipt_no: str
    at: object
    total_cents: int


def history(customer_id: int, program: Program | None) -> tuple[list[InProgress], list[Reached]]:
    """Each offer's card in progress and every reward reached, newest reached first, from the events.

    Units are followed in order: a reward reached takes the receipts that filled its card; units left over
    from the sale that completed it start the next card with that receipt. Rewards given are matched to the
    oldest reward not yet taken; a reward given back by a return is held again.
    """
    counts = {o.name: o.count for o in program.offers} if program else {}
    cards = {c.offer: c for c in StampCard.select().where(StampCard.customer == customer_id)}
    in_progress: list[InProgress] = []
    reached: list[dict] = []
    for offer in sorted(set(cards) | set(counts)):
        count = counts.get(offer, 0)
        current: list[str] = []
        running = 0
        mine: list[dict] = []
        for e in StampEvent.select().where(StampEvent.customer == customer_id, StampEvent.offer == offer) \
                .order_by(StampEvent.id):
            if e.kind == "progress":
                running += e.units
                if e.receipt_no and e.receipt_no not in current:
                    current.append(e.receipt_no)
            elif e.kind == "reached":
                for _ in range(e.rewards):
                    mine.append({"offer": offer, "at": local_time(e.at), "receipt_no": e.receipt_no or "",
                                 "orders": tuple(current), "taken_on": ""})
                running -= e.rewards * count if count else running
                current = [e.receipt_no] if running > 0 and e.receipt_no else []
            elif e.kind == "used":          # `rewards` is minus the rewards given
                for r in [r for r in mine if not r["taken_on"]][:max(0, -e.rewards)]:
                    r["taken_on"] = e.receipt_no or "?"
            elif e.kind == "return":
                running = max(0, running + e.units)
                for r in [r for r in reversed(mine) if r["taken_on"]][:max(0, e.rewards)]:
                    r["taken_on"] = ""
        reached += mine
        card = cards.get(offer)
        if count and (card is None or card.units or not mine):
            in_progress.append(InProgress(offer, card.units if card else 0, count,
                                          tuple(current) if card and card.units else ()))
    reached.sort(key=lambda r: (r["at"], r["receipt_no"]), reverse=True)
    return in_progress, [Reached(**r) for r in reached]


def orders(receipt_nos: tuple[str, ...]) -> list[Order]:
    """The sales behind an offer (seed 001's magnifying glass): number, date and total, oldest first."""
    from tui_pos.models import Note, local_time
    if not receipt_nos:
        return []
    rows = Note.select(Note.receipt_no, Note.closed_at, Note.total_cents).where(
        Note.receipt_no.in_(list(receipt_nos))).order_by(Note.id)
    return [Order(n.receipt_no, local_time(n.closed_at) if n.closed_at else None, n.total_cents) for n in rows]

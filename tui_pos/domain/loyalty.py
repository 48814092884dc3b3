"""Loyalty rules (SPEC.md "Earning, in one rule", seeds 000, 001, 002, 004): pure, exact.

Points are integers; money is cents. Intermediate amounts are Fractions so
that the note's points are rounded down exactly once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from tui_pos.domain.errors import PosError

MAX_POINTS = 999_999_999   # the most points a balance, an opening balance or a product's points may hold:
                           # past any program a store runs, and far inside the 32-bit integer columns


class ProgramError(PosError):
    """A bad program file; the message names the key."""


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int
    multiplier: str = "1"        # a decimal string, e.g. "1.5"
    discount_bp: int = 0

    @property
    def factor(self) -> Fraction:
        return Fraction(Decimal(self.multiplier))


def applies(sales_modes: tuple[str, ...], points_of_sale: tuple[str, ...], sales_mode: str,
            point_of_sale: str) -> bool:
    """Seed 004: "it's also possible to enable this offer on only one or several sales mode(s) and/or
    point(s) of sale". Empty lists: everywhere."""
    return ((not sales_modes or sales_mode in sales_modes)
            and (not points_of_sale or point_of_sale in points_of_sale))


@dataclass(frozen=True)
class SectionRate:
    """A section's own earning rate, replacing the program's where it applies (its sales modes and points
    of sale; everywhere when they are empty)."""

    name: str
    earn_points: int = 1
    per_amount_cents: int = 100
    value_percent_bp: int = 0
    sales_modes: tuple[str, ...] = ()
    points_of_sale: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preset:
    points: int
    value_cents: int


@dataclass(frozen=True)
class StampOffer:
    name: str
    count: int
    reward_sku: str
    section: str = ""
    sku: str = ""
    sales_modes: tuple[str, ...] = ()      # where units bought count (empty: everywhere)
    points_of_sale: tuple[str, ...] = ()

    def applies(self, sales_mode: str, point_of_sale: str) -> bool:
        return applies(self.sales_modes, self.points_of_sale, sales_mode, point_of_sale)


@dataclass(frozen=True)
class Program:
    mode: str = "points"                 # points | value (the balance is money, in cents)
    earn_points: int = 1
    per_amount_cents: int = 100
    value_percent_bp: int = 0
    per_visit: int = 0
    exclude_discounted: bool = True
    sales_modes: tuple[str, ...] = ()
    points_of_sale: tuple[str, ...] = ()
    expire_months: int = 0
    redeem_points: int = 100
    redeem_value_cents: int = 100
    minimum: int = 100
    presets: tuple[Preset, ...] = ()
    tiers: tuple[Tier, ...] = ()
    sections: tuple[SectionRate, ...] = ()
    offers: tuple[StampOffer, ...] = ()

    # ------------------------------------------------------------ tiers

    def tier_for(self, earned: int) -> Tier:
        """The tier held with `earned` lifetime points (the highest threshold reached)."""
        held = Tier("", 0)
        for tier in self.tiers:
            if earned >= tier.threshold:
                held = tier
        return held

    def section_rate(self, section: str, sales_mode: str | None = None,
                     point_of_sale: str | None = None) -> SectionRate | None:
        """The section's own rate for a note in this sales mode and point of sale (the first rule listed
        that applies there), or None: the program's rate. Without a mode, the first rule of the section."""
        for s in self.sections:
            if s.name == section and (sales_mode is None or applies(
                    s.sales_modes, s.points_of_sale, sales_mode, point_of_sale or "")):
                return s
        return None

    # ------------------------------------------------------------ redemption

    def value_of(self, points: int) -> int:
        """Cents that `points` take off at the standard rate."""
        if self.mode == "value":
            return points
        return points * self.redeem_value_cents // self.redeem_points

    def amount(self, value: int, money: Callable[[int], str], *, unit: bool = True) -> str:
        """A balance, an earning or a use as the customer reads it. Seed 002: "with value ... every 1 euro
        is a reward of 0.20": in value mode the balance is money, shown as money everywhere; in points
        mode, points (`unit`: with the word)."""
        if self.mode == "value":
            return ("-" + money(-value)) if value < 0 else money(value)
        return f"{value} points" if unit else str(value)

    def step(self) -> int:
        return 1 if self.mode == "value" else self.redeem_points

    def most_redeemable(self, balance: int, note_total_cents: int) -> int:
        """The most points Enter on F4 redeems: whole steps, within balance and note; 0 if under the minimum."""
        step = self.step()
        points = (max(0, balance) // step) * step
        while points > 0 and self.value_of(points) > note_total_cents:
            points -= step
        return points if points >= self.minimum else 0

    def check_redemption(self, points: int, value_cents: int, balance: int, note_total_cents: int) -> str | None:
        """Why this redemption is refused, or None."""
        if self.mode == "value":     # the balance is money (seed 002): say it in money
            def show(c: int) -> str:
                return f"{c // 100}.{c % 100:02d}" if c >= 0 else "-" + show(-c)
            if points <= 0:
                return "Type an amount of the balance to use, like 5.00."
            if points > balance:
                return f"The customer's balance is {show(balance)}; {show(points)} is more than that."
            if points < self.minimum:
                return f"At least {show(self.minimum)} of the balance can be used at a time."
        if points <= 0:
            return "Type a number of points to redeem."
        if points > balance:
            return f"The customer has {balance} points; {points} is more than the balance."
        if points < self.minimum:
            return f"At least {self.minimum} points can be redeemed at a time."
        if self.mode == "points" and points % self.redeem_points:
            return f"Points are redeemed in steps of {self.redeem_points}."
        if value_cents > note_total_cents:
            return "That is worth more than the note: redeem fewer points."
        return None

    # ------------------------------------------------------------ storage

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> Program:
        return cls(**{**data,
                      "sales_modes": tuple(data["sales_modes"]), "points_of_sale": tuple(data["points_of_sale"]),
                      "presets": tuple(Preset(**p) for p in data["presets"]),
                      "tiers": tuple(Tier(**t) for t in data["tiers"]),
                      "sections": tuple(SectionRate(**_tuples(s)) for s in data["sections"]),
                      "offers": tuple(StampOffer(**_tuples(o)) for o in data["offers"])})


# ---------------------------------------------------------------- parsing the TOML file

def _cents(value: Any, key: str) -> int:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ProgramError(f"{key} = {value!r}: expected an amount such as \"1.00\"") from None
    if isinstance(value, bool) or not d.is_finite() or d < 0 or d != d.quantize(Decimal("0.01")):
        raise ProgramError(f"{key} = {value!r}: expected an amount of 0 or more with at most 2 decimals")
    return int(d * 100)


def _int(value: Any, key: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProgramError(f"{key} = {value!r}: expected a whole number of {minimum} or more")
    return value


def _percent_bp(value: Any, key: str) -> int:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ProgramError(f"{key} = {value!r}: expected a percentage such as \"5\"") from None
    if isinstance(value, bool) or not d.is_finite() or not 0 <= d <= 100 or d != d.quantize(Decimal("0.01")):
        raise ProgramError(f"{key} = {value!r}: expected a percentage from 0 to 100")
    return int(d * 100)


def _redeem_value(value: Any) -> int:
    cents = _cents(value, "redemption.value")
    if cents == 0:
        raise ProgramError(f"redemption.value = {value!r}: expected an amount above 0 (points must be worth something)")
    return cents


def _money_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _tuples(rule: dict[str, Any]) -> dict[str, Any]:
    """A stored rule (JSON lists) with its lists as tuples; programs stored before they had them get ()."""
    return {**rule, "sales_modes": tuple(rule.get("sales_modes", ())),
            "points_of_sale": tuple(rule.get("points_of_sale", ()))}


def _percent_text(bp: int) -> str:
    whole, frac = divmod(bp, 100)
    return str(whole) if not frac else f"{whole}.{frac:02d}".rstrip("0")


def program_to_toml(p: Program) -> str:
    """The program in the loyalty.toml format of SPEC.md (what `tui-pos import loyalty` reads back)."""
    def strs(items: Iterable[str]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"
    out = ["[program]", f'mode = "{p.mode}"', f"earn_points = {p.earn_points}",
           f'per_amount = "{_money_text(p.per_amount_cents)}"',
           f'value_percent = "{_percent_text(p.value_percent_bp)}"',
           f"per_visit = {p.per_visit}", f"exclude_discounted = {'true' if p.exclude_discounted else 'false'}",
           f"sales_modes = {strs(p.sales_modes)}", f"points_of_sale = {strs(p.points_of_sale)}",
           f"expire_months = {p.expire_months}", "", "[redemption]", f"points = {p.redeem_points}",
           f'value = "{_money_text(p.redeem_value_cents)}"', f"minimum = {p.minimum}",
           "presets = [" + ", ".join(f'{{ points = {x.points}, value = "{_money_text(x.value_cents)}" }}'
                                     for x in p.presets) + "]"]
    for t in p.tiers:
        threshold = f'"{_money_text(t.threshold)}"' if p.mode == "value" else str(t.threshold)
        out += ["", "[[tiers]]", f"name = {json.dumps(t.name)}", f"threshold = {threshold}",
                f'multiplier = "{t.multiplier}"', f'discount_percent = "{_percent_text(t.discount_bp)}"']
    for sec in p.sections:
        out += ["", "[[sections]]", f"name = {json.dumps(sec.name)}", f"earn_points = {sec.earn_points}",
                f'per_amount = "{_money_text(sec.per_amount_cents)}"']
        if sec.value_percent_bp:
            out.append(f'value_percent = "{_percent_text(sec.value_percent_bp)}"')
        out += _where_lines(sec)
    for o in p.offers:
        out += ["", "[[offers]]", f"name = {json.dumps(o.name)}",
                f"section = {json.dumps(o.section)}" if o.section else f"sku = {json.dumps(o.sku)}",
                f"count = {o.count}", f"reward_sku = {json.dumps(o.reward_sku)}"]
        out += _where_lines(o)
    return "\n".join(out) + "\n"


def _where_lines(rule: SectionRate | StampOffer) -> list[str]:
    def strs(items: Iterable[str]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"
    return ([f"sales_modes = {strs(rule.sales_modes)}"] if rule.sales_modes else []) + (
        [f"points_of_sale = {strs(rule.points_of_sale)}"] if rule.points_of_sale else [])


def _names(table: dict[str, Any], key: str, where: str, known: set[str] | None) -> tuple[str, ...]:
    """A rule's `sales_modes` or `points_of_sale`: a list of names; sales modes must be the store's."""
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ProgramError(f"{where}{key}: expected a list of names")
    if known is not None:
        for v in value:
            if v not in known:
                raise ProgramError(f"{where}{key}: {v!r} is not a sales mode of this store ([sale] sales_modes "
                                   f"is {', '.join(sorted(known))}); a rule for it would never apply")
    return tuple(v.strip() for v in value)


def _known(table: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ProgramError(f"{where}{key}: unknown key; expected one of {', '.join(sorted(allowed))}")


def parse_program(raw: dict[str, Any], known_sections: set[str] | None = None,
                  known_skus: set[str] | None = None, *, strict_order: bool = False,
                  known_sales_modes: set[str] | None = None) -> Program:
    """Check a parsed loyalty.toml; raise ProgramError naming the key.

    `strict_order` (the settings screen): tiers must be listed from the lowest
    threshold up, so a threshold typed below the previous tier's is refused
    rather than silently moved.
    """
    _known(raw, {"program", "redemption", "tiers", "sections", "offers"}, "")
    p = raw.get("program", {})
    r = raw.get("redemption", {})
    if not isinstance(p, dict) or not isinstance(r, dict):
        raise ProgramError("[program] and [redemption] must be tables")
    _known(p, {"mode", "earn_points", "per_amount", "value_percent", "per_visit", "exclude_discounted",
               "sales_modes", "points_of_sale", "expire_months"}, "program.")
    _known(r, {"points", "value", "minimum", "presets"}, "redemption.")
    mode = p.get("mode", "points")
    if mode not in ("points", "value"):
        raise ProgramError(f"program.mode = {mode!r}: expected \"points\" or \"value\"")
    per_amount = _cents(p.get("per_amount", "1.00"), "program.per_amount")
    if per_amount == 0:
        raise ProgramError("program.per_amount = 0: expected an amount above 0")
    program_modes = _names(p, "sales_modes", "program.", known_sales_modes)
    program_points = _names(p, "points_of_sale", "program.", None)
    exclude = p.get("exclude_discounted", True)
    if not isinstance(exclude, bool):
        raise ProgramError(f"program.exclude_discounted = {exclude!r}: expected true or false")
    redeem_points = _int(r.get("points", 100), "redemption.points", 1)
    presets = []
    for i, preset in enumerate(r.get("presets", [])):
        where = f"redemption.presets[{i}]"
        if not isinstance(preset, dict):
            raise ProgramError(f"{where}: expected {{ points = ..., value = \"...\" }}")
        _known(preset, {"points", "value"}, where + ".")
        presets.append(Preset(_int(preset.get("points"), where + ".points", 1),
                              _cents(preset.get("value"), where + ".value")))
    if len(presets) > 9:
        raise ProgramError("redemption.presets: at most 9 (keys 1-9)")
    minimum = _int(r.get("minimum", redeem_points), "redemption.minimum")
    for i, preset in enumerate(presets):
        if preset.points < minimum:
            raise ProgramError(f"redemption.presets[{i}].points = {preset.points}: below redemption.minimum "
                               f"({minimum}); F4 would list it and then refuse it")
    tiers = []
    for i, tier in enumerate(raw.get("tiers", [])):
        where = f"tiers[{i}]"
        _known(tier, {"name", "threshold", "multiplier", "discount_percent"}, where + ".")
        name = tier.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ProgramError(f"{where}.name: expected a name")
        try:
            multiplier = Decimal(str(tier.get("multiplier", "1")))
        except InvalidOperation:
            raise ProgramError(f"{where}.multiplier = {tier.get('multiplier')!r}: "
                               "expected a number such as \"1.5\"") from None
        if not multiplier.is_finite() or multiplier < 0:
            raise ProgramError(f"{where}.multiplier = {tier.get('multiplier')!r}: expected a number of 0 or more")
        if mode == "value":
            # seed 002's value mode: the balance is money, and so is what a tier asks for (rewards earned over
            # the customer's lifetime): 2000 here would silently mean 20.00
            raw_threshold = tier.get("threshold", "0")
            if not isinstance(raw_threshold, str):
                raise ProgramError(f"{where}.threshold = {raw_threshold!r}: in value mode a threshold is money, "
                                   f"like \"20.00\" (rewards earned over the customer's lifetime)")
            threshold = _cents(raw_threshold, where + ".threshold")
        else:
            threshold = _int(tier.get("threshold", 0), where + ".threshold")
        tiers.append(Tier(name.strip(), threshold, str(multiplier),
                          _percent_bp(tier.get("discount_percent", "0"), where + ".discount_percent")))
    if strict_order:
        for i in range(1, len(tiers)):
            if tiers[i].threshold < tiers[i - 1].threshold:
                raise ProgramError(f"tiers[{i}].threshold = {tiers[i].threshold}: below the previous tier's "
                                   f"({tiers[i - 1].name}, {tiers[i - 1].threshold}); each tier needs more points "
                                   "than the one before")
    thresholds = [t.threshold for t in tiers]
    for t in tiers:
        if thresholds.count(t.threshold) > 1:
            raise ProgramError(f"tiers: two tiers at threshold {t.threshold}; each tier needs its own threshold")
    sections = []
    for i, sec in enumerate(raw.get("sections", [])):
        where = f"sections[{i}]"
        _known(sec, {"name", "earn_points", "per_amount", "value_percent", "sales_modes", "points_of_sale"},
               where + ".")
        name = sec.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ProgramError(f"{where}.name: expected a section name")
        if known_sections is not None and name not in known_sections:
            raise ProgramError(f"{where}.name = {name!r}: no such section; expected one of "
                               + ", ".join(sorted(known_sections)))
        sec_amount = _cents(sec.get("per_amount", "1.00"), where + ".per_amount")
        if sec_amount == 0:
            raise ProgramError(f"{where}.per_amount = 0: expected an amount above 0")
        sections.append(SectionRate(name, _int(sec.get("earn_points", 1), where + ".earn_points"), sec_amount,
                                    _percent_bp(sec.get("value_percent", "0"), where + ".value_percent"),
                                    _names(sec, "sales_modes", where + ".", known_sales_modes),
                                    _names(sec, "points_of_sale", where + ".", None)))
    offers = []
    for i, off in enumerate(raw.get("offers", [])):
        where = f"offers[{i}]"
        _known(off, {"name", "section", "sku", "count", "reward_sku", "sales_modes", "points_of_sale"}, where + ".")
        section, sku = off.get("section", ""), str(off.get("sku", "")).upper()
        if bool(section) == bool(sku):
            raise ProgramError(f"{where}: give either a section or a sku")
        if section and known_sections is not None and section not in known_sections:
            raise ProgramError(f"{where}.section = {section!r}: no such section")
        reward = str(off.get("reward_sku", "")).upper()
        for key, value in (("sku", sku), ("reward_sku", reward)):
            if value and known_skus is not None and value not in known_skus:
                raise ProgramError(f"{where}.{key} = {value!r}: no product has this SKU")
        if not reward:
            raise ProgramError(f"{where}.reward_sku: expected the SKU given as the reward")
        offers.append(StampOffer(str(off.get("name") or f"offer {i + 1}"), _int(off.get("count"), where + ".count", 1),
                                 reward, section, sku, _names(off, "sales_modes", where + ".", known_sales_modes),
                                 _names(off, "points_of_sale", where + ".", None)))
    return Program(
        mode=mode, earn_points=_int(p.get("earn_points", 1), "program.earn_points"), per_amount_cents=per_amount,
        value_percent_bp=_percent_bp(p.get("value_percent", "0"), "program.value_percent"),
        per_visit=_int(p.get("per_visit", 0), "program.per_visit"), exclude_discounted=exclude,
        sales_modes=program_modes, points_of_sale=program_points,
        expire_months=_int(p.get("expire_months", 0), "program.expire_months"),
        redeem_points=redeem_points, redeem_value_cents=_redeem_value(r.get("value", "1.00")),
        minimum=minimum, presets=tuple(presets),
        tiers=tuple(sorted(tiers, key=lambda t: t.threshold)), sections=tuple(sections), offers=tuple(offers))


# ---------------------------------------------------------------- earning

@dataclass(frozen=True)
class EarnLine:
    """What earning needs from one note line."""

    paid_cents: int              # the line's amount for its paid (not offered) units, after its discounts
    qty: int                     # paid units
    product_points: int | None   # None: by the rules; N: per unit; 0: earns nothing
    section: str = ""
    percent_discount: bool = False


def eligible(program: Program, line: EarnLine) -> bool:
    if line.qty <= 0 or line.product_points == 0:
        return False
    return not (program.exclude_discounted and line.percent_discount)


def in_program(program: Program, sales_mode: str, point_of_sale: str) -> bool:
    return applies(program.sales_modes, program.points_of_sale, sales_mode, point_of_sale)


def earn_base(program: Program, lines: list[EarnLine], redeemed_cents: int = 0,
              per_visit: bool = True, sales_mode: str | None = None, point_of_sale: str | None = None) -> Fraction:
    """Points before the tier multiplier, exact (a Fraction)."""
    total = sum(line_contributions(program, lines, redeemed_cents, sales_mode, point_of_sale), Fraction(0))
    return total + (program.per_visit if per_visit else 0)


def earned_points(program: Program, lines: list[EarnLine], *, multiplier: Fraction, redeemed_cents: int = 0,
                  sales_mode: str = "", point_of_sale: str = "", per_visit: bool = True) -> int:
    """SPEC: floor(multiplier x (rule points on money paid + per-unit points + per-visit)), once per note."""
    if not in_program(program, sales_mode, point_of_sale):
        return 0
    return math.floor(multiplier * earn_base(program, lines, redeemed_cents, per_visit, sales_mode, point_of_sale))


@dataclass(frozen=True)
class Block:
    """The receipt's loyalty block."""

    previous: int
    used: int
    earned: int
    new: int
    tier: str = ""
    value_mode: bool = False


__all__ = ["Program", "Tier", "SectionRate", "Preset", "StampOffer", "ProgramError", "parse_program",
           "EarnLine", "earned_points", "earn_base", "eligible", "in_program", "Block", "field"]


def line_contributions(program: Program, lines: list[EarnLine], redeemed_cents: int = 0,
                       sales_mode: str | None = None, point_of_sale: str | None = None) -> list[Fraction]:
    """Each line's points before the multiplier (0 for lines that are not eligible). A section's own rate
    counts where it applies (`sales_mode`, `point_of_sale`); elsewhere the program's rate does."""
    chosen = [eligible(program, ln) for ln in lines]
    amount = sum(ln.paid_cents for ln, ok in zip(lines, chosen) if ok)
    off = Fraction(min(redeemed_cents, amount))
    out = []
    for ln, ok in zip(lines, chosen):
        if not ok:
            out.append(Fraction(0))
        elif ln.product_points is not None:
            out.append(Fraction(ln.qty * ln.product_points))
        else:
            paid = Fraction(ln.paid_cents) - (off * ln.paid_cents / amount if amount else 0)
            rate = program.section_rate(ln.section, sales_mode, point_of_sale)
            if program.mode == "value":
                bp = rate.value_percent_bp if rate else program.value_percent_bp
                out.append(paid * bp / 10000)
            else:
                earn, per = (rate.earn_points, rate.per_amount_cents) if rate else (program.earn_points,
                                                                                     program.per_amount_cents)
                out.append(paid * earn / per)
    return out


def earned_after_returns(program: Program, lines: list[EarnLine], kept: list[Fraction], *, multiplier: Fraction,
                         redeemed_cents: int = 0, sales_mode: str = "", point_of_sale: str = "") -> int:
    """What the note would have earned with only the kept share of each line (1 = nothing returned).

    A return reverses the difference, so any number of partial returns adds
    up to exactly what the returned units earned. Per-visit points stay until
    everything has come back.
    """
    if not in_program(program, sales_mode, point_of_sale):
        return 0
    parts = line_contributions(program, lines, redeemed_cents, sales_mode, point_of_sale)
    total = sum((p * k for p, k in zip(parts, kept)), Fraction(0))
    if any(k > 0 for k in kept):
        total += program.per_visit
    return math.floor(multiplier * total)


# ---------------------------------------------------------------- expiry

import datetime as _dt  # noqa: E402


def add_months(day: _dt.date, months: int) -> _dt.date:
    """The same day `months` later (the month's last day when it has fewer days)."""
    import calendar
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return _dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class LedgerEntry:
    """A movement, as expiry needs it."""

    day: _dt.date
    points: int


def open_lots(entries: list[LedgerEntry], months: int) -> list[tuple[_dt.date, int]]:
    """Points still held, as (expiry day, points), soonest first.

    Every credit is a lot expiring `months` after it; every debit spends the
    soonest-expiring lots first; a debt (a balance below zero) is paid by the
    next credits.
    """
    lots: list[list[Any]] = []
    debt = 0
    for entry in entries:
        if entry.points > 0:
            points = entry.points
            paid = min(debt, points)
            debt -= paid
            points -= paid
            if points:
                lots.append([add_months(entry.day, months), points])
                lots.sort(key=lambda lot: lot[0])
        elif entry.points < 0:
            need = -entry.points
            for lot in lots:
                take = min(lot[1], need)
                lot[1] -= take
                need -= take
                if not need:
                    break
            lots = [lot for lot in lots if lot[1]]
            debt += need
    return [(day, points) for day, points in lots]


def expired_points(lots: list[tuple[_dt.date, int]], today: _dt.date) -> int:
    return sum(points for day, points in lots if day <= today)


def expiring_within(lots: list[tuple[_dt.date, int]], today: _dt.date, days: int = 30) -> tuple[int, _dt.date | None]:
    """Points expiring after today and within `days`, and the first such day."""
    soon = [(day, points) for day, points in lots if today < day <= today + _dt.timedelta(days=days)]
    return sum(p for _, p in soon), (soon[0][0] if soon else None)

"""Panama's RUC and its verification digit (DV), per the DGI's algorithm v201805.

The DGI document is ../shared/reference/panama-ruc/dgi-algoritmo-dv-201805.pdf.
A RUC is laid out as digits (RUCTB), letters become digits, and two mod-11
digits are computed with weights 2, 3, 4... from the right; the second digit
includes the first. Old-format legal RUCs go through a cross-reference table
and skip weight 12.

`P-NT-T-A` is ambiguous: the same text has one DV for a natural person and
another for a legal entity, so the caller must say which (`nt_person`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tui_pos.domain.errors import InputError

# Letters in a natural person's RUC and the digits the DGI replaces them with.
_LETTERS = {"": "00", "NT": "43", "E": "50", "N": "40", "PE": "75", "PI": "79", "AV": "15"}

# Cross-reference for old-format legal RUCs: positions 6-7 of RUCTB (ARR-VAL) -> digit (ARR-DIG).
_ARR_VAL = ["00"] + [str(v) for v in range(10, 50)]
_ARR_DIG = "0123456789" "1234789" "23456789" "123456789" "1234567"
_CROSS_REF = dict(zip(_ARR_VAL, _ARR_DIG))

_NATURAL_FIRST = re.compile(r"^(?:(?P<prov>\d{1,2})(?P<suffix>PI|AV)?|(?P<letters>PE|E|N))$")


@dataclass(frozen=True)
class Ruc:
    """A parsed RUC: its digit layout and whether it is a natural person's."""

    text: str
    natural: bool
    digits: str          # RUCTB with letters already turned into digits
    old_format: bool = False
    max_weight: int = 0  # 0: every digit counts; 11: only the last ten (E, PE, PI, AV with a 4-digit tomo)


def normalize(text: str) -> str:
    return re.sub(r"\s+", "", text.strip().upper())


def parse(text: str, nt_person: str | None = None) -> Ruc:
    """Lay a RUC out as the DGI does; raise InputError when it cannot be a RUC."""
    ruc = normalize(text)
    if not ruc.isascii():   # "８-274-125": str.isdigit takes full-width and other scripts' digits
        raise InputError(f"RUC {text!r} has characters other than the letters A-Z, the digits 0-9 and '-'.")
    parts = ruc.split("-")
    if any(not p for p in parts):
        raise InputError(f"RUC {text!r} has an empty part: write it like 8-274-125 or 155596713-2-2015.")
    if len(parts) == 4 and parts[1] == "NT":
        prov, letters, tomo, asiento = parts[0], "NT", parts[2], parts[3]
        if not prov.isdigit():
            raise InputError(f"RUC {text!r}: an NT number starts with a province number, like 8-NT-1-24.")
        if nt_person not in ("natural", "juridical"):
            raise InputError(f"RUC {text!r} is an NT number: say whether it is a natural person's or a legal entity's.")
        natural = nt_person == "natural"
    elif len(parts) == 3:
        m = _NATURAL_FIRST.match(parts[0])
        is_cedula = m is not None and (m.group("letters") or m.group("suffix")
                                        or int(m.group("prov")) <= 13)
        if m is None or not is_cedula:
            return _legal(text, parts)
        prov = m.group("prov") or ""
        letters = m.group("letters") or m.group("suffix") or ""
        tomo, asiento = parts[1], parts[2]
        natural = True
    else:
        raise InputError(f"RUC {text!r} does not look like a RUC: write it like 8-274-125 or 155596713-2-2015.")
    if letters == "NT" and len(asiento) == 7:
        asiento = asiento[:5]  # DGI note: NT with a 7-digit asiento is computed on its first 5
    if not (tomo.isdigit() and asiento.isdigit()) or len(prov) > 2 or len(tomo) > 4 or len(asiento) > 6:
        raise InputError(f"RUC {text!r}: the tomo and asiento must be numbers (up to 4 and 6 digits).")
    tomo_width = 4 if len(tomo) == 4 else 3
    asiento_width = 6 if len(asiento) == 6 else 5
    marker = "5" if natural else "0"   # the "N" that marks a natural person becomes 5
    digits = marker + prov.zfill(2) + _LETTERS[letters] + tomo.zfill(tomo_width) + asiento.zfill(asiento_width)
    # "el largo ... es de 18 posiciones y solo se llega hasta el vector 11" (DGI example 12)
    # (the public vectors show that an "N" with a 4-digit tomo counts every digit)
    truncated = letters in ("E", "PE", "PI", "AV") and tomo_width == 4
    return Ruc(ruc, natural, digits, max_weight=11 if truncated else 0)


def _legal(text: str, parts: list[str]) -> Ruc:
    if not all(p.isdigit() for p in parts) or len(parts[0]) > 10 or len(parts[1]) > 4 or len(parts[2]) > 6:
        raise InputError(f"RUC {text!r} does not look like a RUC: write it like 8-274-125 or 155596713-2-2015.")
    digits = parts[0].zfill(10) + parts[1].zfill(4) + parts[2].zfill(6)
    old = digits[3] == "0" and digits[4] == "0" and digits[5] < "5"
    if old and digits[5:7] in _CROSS_REF:
        digits = digits[:5] + "0" + _CROSS_REF[digits[5:7]] + digits[7:]
    return Ruc(normalize(text), False, digits, old_format=old)


def _digit(digits: str, skip_12: bool, max_weight: int = 0) -> str:
    """One mod-11 digit: weights 2, 3, ... from the right (old format: 11 twice, no 12)."""
    total, weight, skipped = 0, 2, False
    for ch in reversed(digits):
        if max_weight and weight > max_weight:
            break
        if weight == 12 and skip_12 and not skipped:
            weight, skipped = 11, True
        total += weight * int(ch)
        weight += 1
    rest = total % 11
    return "0" if rest in (0, 1) else str(11 - rest)


def compute_dv(text: str, nt_person: str | None = None) -> str:
    """The two-digit DV of a RUC ('09', not '9')."""
    ruc = parse(text, nt_person)
    dv1 = _digit(ruc.digits, ruc.old_format, ruc.max_weight)
    dv2 = _digit(ruc.digits + dv1, ruc.old_format, ruc.max_weight)
    return dv1 + dv2


def check(text: str, dv: str, nt_person: str | None = None) -> str:
    """Validate a RUC and its DV; return the DV as two digits or raise InputError."""
    given = dv.strip()
    if not (given.isascii() and given.isdigit()) or len(given) > 2:
        raise InputError(f"DV {dv!r} must be one or two digits.")
    expected = compute_dv(text, nt_person)
    if given.zfill(2) != expected:
        raise InputError(f"DV {given} does not match RUC {normalize(text)} (check both against the DGI certificate).")
    return expected

"""Terminal charts from plain text: horizontal bars that read on the 16-colour Linux console.

Only the full block (U+2588, in every console font) and spaces are used, so the
charts need neither colour nor the eighth-block glyphs console fonts lack.
"""

from __future__ import annotations

BLOCK = "█"


def bar(value: int, largest: int, width: int) -> str:
    """A bar of `width` cells at most; any non-zero value shows at least one cell."""
    if largest <= 0 or value <= 0 or width <= 0:
        return ""
    cells = value * width // largest
    return BLOCK * max(1, cells)


def bar_chart(rows: list[tuple[str, int]], width: int, *, label_width: int | None = None) -> str:
    """`label  ████████ 123` per row, bars scaled to the largest value."""
    if not rows:
        return "(nothing yet)"
    label_width = label_width or max(len(label) for label, _ in rows)
    largest = max(value for _, value in rows)
    digits = max(len(str(value)) for _, value in rows)
    room = max(1, width - label_width - digits - 2)
    return "\n".join(f"{label[:label_width]:<{label_width}} {bar(value, largest, room):<{room}} {value:>{digits}}"
                     for label, value in rows)


def paired_chart(rows: list[tuple[str, int, int]], width: int, names: tuple[str, str]) -> str:
    """Two bars per label (e.g. points issued and redeemed per month), on one scale."""
    if not rows:
        return "(nothing yet)"
    label_width = max(len(label) for label, _, _ in rows)
    largest = max(max(a, b) for _, a, b in rows)
    digits = max(len(str(v)) for _, a, b in rows for v in (a, b))
    tag = max(len(n) for n in names)
    room = max(1, width - label_width - tag - digits - 3)
    out = []
    for label, a, b in rows:
        out.append(f"{label:<{label_width}} {names[0]:<{tag}} {bar(a, largest, room):<{room}} {a:>{digits}}")
        out.append(f"{'':<{label_width}} {names[1]:<{tag}} {bar(b, largest, room):<{room}} {b:>{digits}}")
    return "\n".join(out)

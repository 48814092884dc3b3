"""The Linux console (TERM=linux): 16 colours, no mouse, and fonts without most block glyphs.

The `console` theme uses the 16 ANSI colours as they are (no truecolour
blending to be rounded off), and `console.tcss` swaps every border that
Textual draws with glyphs those fonts lack (`tall`'s ▔▁▊▎, `round`'s ╭╮,
tabs' ━╸) for single box-drawing lines, which every console font has.
Scrollbar thumbs are drawn as coloured cells instead of eighth blocks.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.theme import Theme

CONSOLE = Theme(
    name="console",
    ansi=True,
    primary="ansi_blue",
    secondary="ansi_cyan",
    warning="ansi_yellow",
    error="ansi_bright_red",
    success="ansi_green",
    accent="ansi_bright_yellow",
    foreground="ansi_white",
    background="ansi_black",
    surface="ansi_black",
    panel="ansi_blue",
    boost="ansi_black",
    dark=True,
    variables={
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "text-muted": "ansi_white",
        "border": "ansi_white",
        "border-blurred": "ansi_white",
        "block-cursor-foreground": "ansi_black",
        "block-cursor-background": "ansi_bright_white",
        "block-cursor-text-style": "bold",
        "input-cursor-background": "ansi_white",
        "input-cursor-foreground": "ansi_black",
        "input-cursor-text-style": "none",
        "input-selection-background": "ansi_blue",
        "input-selection-foreground": "ansi_bright_white",
        "footer-key-foreground": "ansi_bright_yellow",
        "footer-description-foreground": "ansi_white",
        "footer-background": "ansi_blue",
        "footer-key-background": "ansi_blue",
        "footer-description-background": "ansi_blue",
        "scrollbar": "ansi_blue",
        "scrollbar-hover": "ansi_bright_blue",
        "scrollbar-active": "ansi_bright_blue",
        "scrollbar-background": "ansi_black",
        "scrollbar-background-hover": "ansi_black",
        "scrollbar-background-active": "ansi_black",
        "scrollbar-corner-color": "ansi_black",
        "screen-selection-background": "ansi_blue",
        "screen-selection-foreground": "ansi_bright_white",
    },
)

CONSOLE_CSS = Path(__file__).with_name("console.tcss")

# What the Linux console's fonts draw (Lat15/Terminus/VGA with their Unicode maps):
# ASCII, Latin-1, single and double box drawing, full and half blocks, shades, arrows, triangles.
CONSOLE_GLYPHS = frozenset(
    [chr(c) for c in range(0x20, 0x7F)] + [chr(c) for c in range(0xA0, 0x100)]
    + list("─│┌┐└┘├┤┬┴┼═║╒╓╔╕╖╗╘╙╚╛╜╝╞╟╠╡╢╣╤╥╦╧╨╩╪╫╬")
    + list("█▀▄▌▐░▒▓■▲►▼◄←↑→↓…€")
)


def theme_for(setting: str, term: str | None = None) -> str:
    """The theme to use: `[ui] theme`, where "auto" is "console" on TERM=linux and "textual-dark" elsewhere."""
    if setting != "auto":
        return setting
    term = os.environ.get("TERM", "") if term is None else term
    return "console" if term == "linux" else "textual-dark"


class ConsoleScrollBarRender(ScrollBarRender):
    """Scrollbar thumbs in whole cells: the console fonts have no eighth blocks."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


def use_console_glyphs(on: bool = True) -> None:
    """Draw scrollbars without eighth blocks, or (False) with Textual's own (process-wide: one app per process)."""
    ScrollBar.renderer = ConsoleScrollBarRender if on else ScrollBarRender


def unsupported(text: str) -> set[str]:
    """Characters of `text` that a Linux console font cannot draw."""
    return {ch for ch in text if ch not in CONSOLE_GLYPHS and ch not in "\n\r\t"}


__all__ = ["CONSOLE", "CONSOLE_CSS", "CONSOLE_GLYPHS", "theme_for", "use_console_glyphs", "unsupported"]

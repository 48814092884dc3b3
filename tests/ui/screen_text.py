"""The text a terminal shows, read back from Textual's own screenshot (an SVG of the real render).

Each `<text>` element of the SVG is a run of cells on one line (its clip-path
names the line) starting at column x / cell width. Putting the runs back in
their columns gives the screen as a cashier reads it, so a test can say
"F10 Pay is on screen" and fail when a key or a word is cut.
"""

import html
import re

RUN = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" '
                 r'clip-path="url\(#[\w-]*?line-(\d+)\)">([^<]*)</text>')


def screen_text(app) -> str:
    svg = app.export_screenshot()
    width, height = app.size
    lines = [[" "] * width for _ in range(height)]
    for x, length, line, raw in RUN.findall(svg):
        text = html.unescape(raw).replace("\xa0", " ")
        if not text:
            continue
        cell = float(length) / len(text)
        col = round(float(x) / cell)
        row = int(line)
        for i, ch in enumerate(text):
            if row < height and 0 <= col + i < width:
                lines[row][col + i] = ch
    return "\n".join("".join(chars).rstrip() for chars in lines)

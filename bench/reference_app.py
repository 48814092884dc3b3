"""The naive reference for the benchmarks: a Header, a DataTable and an Input.

`python bench/reference_app.py [ROWS]` starts with ROWS rows; each submitted
code adds a row (`add_row` on submit), as the issue describes.
"""

import sys

from textual.app import App
from textual.widgets import DataTable, Header, Input


class Reference(App):
    def __init__(self, rows: int = 0) -> None:
        super().__init__()
        self.rows = rows

    def compose(self):
        yield Header()
        yield DataTable()
        yield Input(placeholder="reference ready")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Item", "Qty", "Price", "Total")
        for i in range(self.rows):
            table.add_row(f"Prefill {i:04d}", "1", "1.00", "1.00")
        table.move_cursor(row=max(0, self.rows - 1))
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        table = self.query_one(DataTable)
        table.add_row(f"Item {int(event.value[2:12]):04d}", "1", "1.00", "1.00")  # the bench EAN carries the index
        table.move_cursor(row=table.row_count - 1)
        event.input.value = ""


if __name__ == "__main__":
    Reference(int(sys.argv[1]) if len(sys.argv) > 1 else 0).run()

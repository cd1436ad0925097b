"""Query results as text: a table that fits the terminal, or csv, json and markdown for other programs.

Pure: (columns, rows) in, text out. The table never wraps a cell; long values give way to "…" instead.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

Row = Sequence[object]

NULL = "NULL"
NEWLINE_MARK = "⏎"
# Line breaks of every kind (a row stays one line) and other control characters (a value cannot drive the terminal).
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The table's frame: one space of padding each side of a cell and one rule between cells and at both edges.
_PAD = 1
# A cut column keeps this many cells ("ab…"); when even that does not fit, the lines are cropped on the right.
MIN_CELLS = 3


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


def render(columns: Sequence[str], rows: Sequence[Row], fmt: Format, width: int) -> str:
    """The result in one format, ending with a newline; `width` (terminal columns) bounds only the table."""
    if fmt is Format.table:
        return render_table(columns, rows, width)
    return {Format.csv: render_csv, Format.json: render_json, Format.markdown: render_markdown}[fmt](columns, rows)


def one_line(text: str, newline: str) -> str:
    """A value on one line: each line break becomes `newline`, any other control character a space."""
    return _CONTROL.sub(" ", _LINE_BREAK.sub(newline, text))


def is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def numeric_columns(column_count: int, rows: Sequence[Row]) -> list[bool]:
    """Columns whose non-NULL values are all numbers: these are right-aligned."""
    return [all(is_number(row[i]) for row in rows if row[i] is not None) for i in range(column_count)]


def fit_widths(natural: Sequence[int], available: int) -> list[int]:
    """Shrink the widest column one cell at a time until the sum fits, none below MIN_CELLS.

    Narrow columns (ids, counts, codes) stay whole and long text gives way, which an even cut would not do.
    """
    widths = [max(1, min(width, max(available, MIN_CELLS))) for width in natural]
    while sum(widths) > available and max(widths) > MIN_CELLS:
        widths[widths.index(max(widths))] -= 1
    return widths


def frame_width(column_count: int) -> int:
    """Cells the table's frame takes beside the values: padding on both sides of each cell plus the rules."""
    return column_count * (2 * _PAD + 1) + 1


def render_table(columns: Sequence[str], rows: Sequence[Row], width: int) -> str:
    """One line per row within `width`: columns shrink to fit, values cut with "…", numbers right-aligned.

    Rich renders and cuts; the widths are ours, as rich's own collapse squeezes every column evenly, short ones to
    nothing. With more columns than `width` can show at MIN_CELLS each, the lines are cropped on the right instead.
    """
    headers = [Text(one_line(name, NEWLINE_MARK)) for name in columns]  # Text: rich markup in data stays literal
    cells = [[Text(NULL, style="dim") if value is None else Text(one_line(str(value), NEWLINE_MARK)) for value in row]
             for row in rows]
    natural = [max([header.cell_len, *(row[i].cell_len for row in cells)]) for i, header in enumerate(headers)]
    widths = fit_widths(natural, width - frame_width(len(columns)))
    table = Table(
        *(Column(header, width=cell_width, no_wrap=True, overflow="ellipsis", justify="right" if numeric else "left")
          for header, cell_width, numeric in zip(headers, widths, numeric_columns(len(columns), rows), strict=True)),
        expand=False, padding=(0, _PAD),
    )
    for row in cells:
        table.add_row(*row)
    out = io.StringIO()
    layout_width = max(width, frame_width(len(columns)) + sum(widths))
    Console(file=out, width=layout_width, color_system=None, force_terminal=False, legacy_windows=False).print(table)
    return "".join(f"{crop(line, width)}\n" for line in out.getvalue().splitlines())


def crop(line: str, width: int) -> str:
    """At most `width` terminal cells (a wide character counts two)."""
    return line if cell_len(line) <= width else set_cell_size(line, width)


def render_csv(columns: Sequence[str], rows: Sequence[Row]) -> str:
    """RFC 4180 (quoted where needed, CRLF line ends); NULL is an empty field."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def render_json(columns: Sequence[str], rows: Sequence[Row]) -> str:
    """A list of objects; dates, decimals and anything else JSON lacks become strings."""
    return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str) + "\n"


def markdown_cell(value: object) -> str:
    """A GitHub table cell: line breaks as <br>, backslashes and pipes escaped so the row keeps its cells."""
    text = NULL if value is None else one_line(str(value), "<br>")
    return text.replace("\\", "\\\\").replace("|", "\\|")


def render_markdown(columns: Sequence[str], rows: Sequence[Row]) -> str:
    """A GitHub pipe table, every value whole; numeric columns right-aligned."""
    align = ["---:" if numeric else "---" for numeric in numeric_columns(len(columns), rows)]
    lines = [[markdown_cell(name) for name in columns], align, *([markdown_cell(value) for value in row] for row in rows)]
    return "".join(f"| {' | '.join(line)} |\n" for line in lines)

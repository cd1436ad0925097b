"""Query results as text: a table that fits the terminal, a record view, or csv, json and markdown for other programs.

Pure: (columns, rows) in, text out. The table never wraps a cell; long values give way to "…", and columns
that do not fit even so are left out, saying which and how to see them (`--format line`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Sequence
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
# The fewest cells a cut column keeps, and the most of its header a column keeps whole: a header is read in
# full ("first_seen_at") or nearly ("ingest_run_i…"), never as a stub ("fi…"). A column needing less is whole.
MIN_CELLS = 8
HEADER_CELLS = 16


class Format(StrEnum):
    table = "table"
    line = "line"
    csv = "csv"
    json = "json"
    markdown = "markdown"


def render(columns: Sequence[str], rows: Sequence[Row], fmt: Format, width: int, whole: Collection[str] = ()) -> str:
    """The result in one format, ending with a newline; `width` (terminal columns) bounds only the table, whose
    `whole` columns are never cut (a URL the user must copy)."""
    if fmt is Format.table:
        return render_table(columns, rows, width, whole)
    renderers = {
        Format.line: render_lines,
        Format.csv: render_csv,
        Format.json: render_json,
        Format.markdown: render_markdown,
    }
    return renderers[fmt](columns, rows)


def one_line(text: str, newline: str) -> str:
    """A value on one line: each line break becomes `newline`, any other control character a space."""
    return _CONTROL.sub(" ", _LINE_BREAK.sub(newline, text))


def is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def numeric_columns(column_count: int, rows: Sequence[Row]) -> list[bool]:
    """Columns whose non-NULL values are all numbers: these are right-aligned."""
    return [all(is_number(row[i]) for row in rows if row[i] is not None) for i in range(column_count)]


def fit_widths(natural: Sequence[int], least: Sequence[int], available: int) -> list[int]:
    """Shrink the widest column that may still shrink, one cell at a time, until the sum fits `available`.

    Narrow columns (ids, counts, codes) stay whole and long text gives way, which an even cut would not do;
    no column goes below its `least`.
    """
    # Capped at the width first: a 10 MB body shrinks from the terminal's width, not cell by cell from its length.
    widths = [min(width, max(available, low)) for width, low in zip(natural, least, strict=True)]
    while sum(widths) > available:
        shrinkable = [i for i, width in enumerate(widths) if width > least[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def frame_width(column_count: int) -> int:
    """Cells the table's frame takes beside the values: padding on both sides of each cell plus the rules."""
    return column_count * (2 * _PAD + 1) + 1


def least_width(header_cells: int, natural: int) -> int:
    """The narrowest a column may be cut to: its header up to HEADER_CELLS, at least MIN_CELLS, at most its need."""
    return min(natural, max(MIN_CELLS, min(header_cells, HEADER_CELLS)))


def shown_columns(least: Sequence[int], width: int) -> int:
    """How many columns, from the left, fit `width` at their narrowest (at least one: it is cropped if need be)."""
    count = 0
    while count < len(least) and frame_width(count + 1) + sum(least[: count + 1]) <= width:
        count += 1
    return max(count, 1) if least else 0


def render_table(columns: Sequence[str], rows: Sequence[Row], width: int, whole: Collection[str] = ()) -> str:
    """One line per row within `width`: columns shrink to fit, values cut with "…", numbers right-aligned.

    Rich renders and cuts; the widths are ours, as rich's own collapse squeezes every column evenly, short ones to
    nothing. Columns that do not fit at their narrowest are left out from the right, and a note under the table
    names them; a first column wider than the terminal is cropped.
    """
    headers = [Text(one_line(name, NEWLINE_MARK)) for name in columns]  # Text: rich markup in data stays literal
    cells = [
        [Text(NULL, style="dim") if value is None else Text(one_line(str(value), NEWLINE_MARK)) for value in row]
        for row in rows
    ]
    natural = [max([header.cell_len, *(row[i].cell_len for row in cells)]) for i, header in enumerate(headers)]
    least = [
        natural[i] if name in whole else least_width(headers[i].cell_len, natural[i]) for i, name in enumerate(columns)
    ]
    count = shown_columns(least, width)
    widths = fit_widths(natural[:count], least[:count], width - frame_width(count))
    table = Table(
        *(
            Column(header, width=cell_width, no_wrap=True, overflow="ellipsis", justify="right" if numeric else "left")
            for header, cell_width, numeric in zip(headers[:count], widths, numeric_columns(count, rows), strict=True)
        ),
        expand=False,
        padding=(0, _PAD),
    )
    for row in cells:
        table.add_row(*row[:count])
    out = io.StringIO()
    layout_width = max(width, frame_width(count) + sum(widths))
    Console(file=out, width=layout_width, color_system=None, force_terminal=False, legacy_windows=False).print(table)
    lines = [crop(line, width) for line in out.getvalue().splitlines()]
    return "".join(f"{line}\n" for line in [*lines, *left_out_note(columns[count:], len(columns), width)])


def left_out_note(left_out: Sequence[str], total: int, width: int) -> list[str]:
    """The lines that say which columns the table left out, as many named as `width` holds, and how to see them."""
    if not left_out:
        return []
    note = f"{len(left_out)} of {total} columns not shown: "
    for count in range(len(left_out), 0, -1):
        names = ", ".join(left_out[:count]) + (", …" if count < len(left_out) else "")
        if cell_len(note + names) <= width:
            break
    return [crop(note + names, width), crop("(all of them: --format line, one column per line)", width)]


def render_lines(columns: Sequence[str], rows: Sequence[Row]) -> str:
    """Each row as a record, one `column: value` line per column (names aligned), values whole, a blank line between."""
    names = [one_line(name, NEWLINE_MARK) for name in columns]
    pad = max((cell_len(name) for name in names), default=0)
    records = [
        "".join(
            f"{' ' * (pad - cell_len(name))}{name}: {NULL if value is None else one_line(str(value), NEWLINE_MARK)}\n"
            for name, value in zip(names, row, strict=True)
        )
        for row in rows
    ]
    return "\n".join(records)


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
    lines = [
        [markdown_cell(name) for name in columns],
        align,
        *([markdown_cell(value) for value in row] for row in rows),
    ]
    return "".join(f"| {' | '.join(line)} |\n" for line in lines)

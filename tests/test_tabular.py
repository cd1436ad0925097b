"""Query results as text: the table fits any width, and csv, json and markdown read back to the same values."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from rich.cells import cell_len

from pipelines.tabular import MIN_CELLS, Format, fit_widths, render

COLUMNS = ["article_id", "title", "dateline_place", "language", "word_count", "lead", "first_seen_at", "url"]
ROWS = [
    (
        "3f9a0c1d2e4b",
        "Lavrov says talks with Washington will resume in Geneva next week, ministry confirms",
        "MOSCOW",
        "en",
        512,
        "MOSCOW (Reuters) - Russian Foreign Minister Sergey Lavrov said on Tuesday that talks would resume",
        datetime(2024, 3, 5, 9, 30, tzinfo=UTC),
        "https://news.example.com/world/2024/03/05/lavrov-geneva-talks",
    ),
    (
        "8b7e6d5c4a39",
        'Ministry: "no comment",\nfor now | said spokeswoman',
        None,
        "ru",
        None,
        "Line one\r\nline two\ttabbed \\ backslash | pipe",
        date(2024, 3, 6),
        "https://news.example.com/a?b=1,c=2",
    ),
    (
        "c0ffee000001",
        "[bold]Markup stays text[/bold] 東京で首脳会談",
        "TOKYO",
        "ja",
        Decimal("1234.50"),
        "",
        None,
        "https://news.example.com/ja",
    ),
]
FRAME_LINES = 4  # top rule, header, header rule, bottom rule


def table_lines(width: int, columns: list[str] = COLUMNS, rows: Sequence[tuple[object, ...]] = ROWS) -> list[str]:
    return render(columns, rows, Format.table, width).splitlines()


def test_fit_widths_keeps_narrow_columns_and_fits() -> None:
    assert fit_widths([12, 80, 2, 40], [8, 8, 2, 8], 200) == [12, 80, 2, 40]
    widths = fit_widths([12, 80, 2, 40], [8, 8, 2, 8], 50)
    assert sum(widths) == 50 and widths[0] == 12 and widths[2] == 2 and widths[1] == widths[3] == 18
    assert fit_widths([12, 80, 40], [12, 8, 40], 60) == [12, 8, 40]  # a column kept whole never shrinks
    assert fit_widths([9, 9, 9], [8, 8, 8], 10) == [8, 8, 8]  # never below the least: the caller leaves columns out
    assert fit_widths([10_000_000, 12], [8, 10], 70) == [58, 12]  # a body of megabytes: cut to the width at once


def shown_headers(lines: list[str]) -> list[str]:
    return [cell.strip() for cell in lines[1].strip("┃").split("┃")]


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 132, 200])
def test_table_fits_the_width_with_one_line_per_row_and_names_what_it_left_out(width: int) -> None:
    lines = table_lines(width)
    assert all(cell_len(line) <= width for line in lines), max(map(cell_len, lines))
    headers = shown_headers(lines)
    left_out = COLUMNS[len(headers) :]
    assert headers == COLUMNS[: len(headers)]  # from the left, and never cut to a stub: whole up to HEADER_CELLS
    assert len(lines) == len(ROWS) + FRAME_LINES + (2 if left_out else 0)
    for row, line in zip(ROWS, lines[3 : 3 + len(ROWS)], strict=True):
        assert line.startswith(f"│ {row[0][:MIN_CELLS]}") and line.count("│") == len(headers) + 1
    if left_out:
        assert lines[-2].startswith(f"{len(left_out)} of {len(COLUMNS)} columns not shown: {left_out[0]}")
        assert "--format line" in lines[-1]
    assert (width >= 120) == (not left_out)


def test_table_at_80_cuts_long_text_and_keeps_null_and_numbers_readable() -> None:
    lines = table_lines(80)
    first, second = lines[3], lines[4]
    assert "…" in first and ROWS[0][1] not in first  # the title was cut, not wrapped
    assert "NULL" in second
    wide = table_lines(400)
    assert ROWS[0][1] in wide[3] and ROWS[0][7] in wide[3]  # room enough: nothing cut
    assert re.search(r" 512 │", wide[3]) and re.search(r" 1234.50 │", wide[5])  # numbers flush right
    assert 'no comment",⏎for now | said' in wide[4] and "Line one⏎line two tabbed" in wide[4]
    assert "[bold]Markup stays text[/bold] 東京で首脳会談" in wide[5]
    assert "[i]title[/i]" in table_lines(40, ["[i]title[/i]"], [("x",)])[1]


def test_a_column_kept_whole_is_never_cut() -> None:
    lines = render(COLUMNS, ROWS, Format.table, 80, whole={"url"}).splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    moved = render(["url", *COLUMNS[:-1]], [(row[-1], *row[:-1]) for row in ROWS], Format.table, 80, whole={"url"})
    assert ROWS[0][7] in moved.splitlines()[3]


def test_many_columns_show_what_fits_and_a_too_wide_first_column_is_cropped() -> None:
    columns = [f"c{i}" for i in range(40)]
    lines = table_lines(80, columns, [tuple(range(40))])
    assert all(cell_len(line) <= 80 for line in lines)
    shown = shown_headers(lines)
    assert (
        shown == columns[: len(shown)]
        and len(shown) == 14
        and lines[-2].startswith("26 of 40 columns not shown: c14, c15")
    )
    assert lines[-2].endswith(", …") and cell_len(lines[-2]) > 70  # as many named as the width holds
    cropped = table_lines(10, ["a_very_long_column_name"], [("x" * 30,)])
    assert all(cell_len(line) <= 10 for line in cropped) and len(cropped) == 1 + FRAME_LINES


def test_the_line_format_shows_every_column_of_every_row_whole() -> None:
    text = render(COLUMNS, ROWS, Format.line, 80)
    records = text.split("\n\n")
    assert len(records) == len(ROWS)
    first = records[0].splitlines()
    assert len(first) == len(COLUMNS) and first[1] == f"         title: {ROWS[0][1]}"
    assert all(line.index(": ") == len("dateline_place") for line in first)  # names aligned
    assert (
        "word_count: NULL" in records[1]
        and "Line one⏎line two" in records[1]
        and records[1].count("\n") == len(COLUMNS) - 1
    )
    assert render(COLUMNS, [], Format.line, 80) == ""


def test_csv_reads_back_with_null_as_empty() -> None:
    text = render(COLUMNS, ROWS, Format.csv, 80)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed == [COLUMNS, *[["" if value is None else str(value) for value in row] for row in ROWS]]
    assert text.endswith("\r\n")


def test_json_reads_back_with_dates_and_decimals_as_strings() -> None:
    parsed = json.loads(render(COLUMNS, ROWS, Format.json, 80))
    assert [list(item) for item in parsed] == [COLUMNS] * len(ROWS)
    assert parsed[0]["first_seen_at"] == "2024-03-05 09:30:00+00:00" and parsed[1]["first_seen_at"] == "2024-03-06"
    assert (
        parsed[2]["word_count"] == "1234.50" and parsed[0]["word_count"] == 512 and parsed[1]["dateline_place"] is None
    )
    assert parsed[1]["title"] == ROWS[1][1]


def test_markdown_has_one_line_per_row_and_whole_values() -> None:
    lines = render(COLUMNS, ROWS, Format.markdown, 20).splitlines()
    assert len(lines) == len(ROWS) + 2
    assert lines[1] == "| " + " | ".join("---:" if name == "word_count" else "---" for name in COLUMNS) + " |"
    for row, line in zip(ROWS, lines[2:], strict=True):
        cells = [cell.strip() for cell in re.findall(r"((?:[^|\\]|\\.)*)\|", line)[1:]]  # split on unescaped pipes
        assert len(cells) == len(COLUMNS)
        unescaped = [re.sub(r"\\(.)", r"\1", cell) for cell in cells]
        expected = [
            "NULL" if value is None else re.sub(r"\r\n|\n", "<br>", str(value)).replace("\t", " ") for value in row
        ]
        assert unescaped == expected

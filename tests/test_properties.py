"""Property-based tests (Hypothesis): no generated input breaks a reader, and no set of files breaks a batch.

Inputs: arbitrary bytes; text in many encodings with and without a BOM, NUL and control characters
included; sizes from nothing to past the file cap; HTML, JSON and XML nested thousands deep; huge single
lines; thousands of paragraphs or items. The readers may refuse an input only with `InputError` (its
reason); a whole batch always completes, and every file is accounted for exactly once. The inputs that
once failed whole batches are kept as files by `tests/pathological.py` (tests/test_failures.py). Budgets
are set per test (`max_examples`) so `make test` stays bounded.
"""

from __future__ import annotations

import codecs
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_failures import gx_copy

from pipelines.config import Settings
from pipelines.quality.gate import BatchValidationError
from pipelines.records import RawDocument, Status
from pipelines.sources.formats import (
    MEDIA_TYPES,
    InputError,
    check_content,
    read_drafts,
)
from pipelines.sources.sitemaps import parse_sitemap_bytes
from pipelines.storage.staging import read_stage
from pipelines.text.articles import extract_draft, finish_article
from pipelines.text.boilerplate import load_boilerplate_rules

CAP = 200_000  # NEWSFLOW_MAX_FILE_BYTES in these tests: generated sizes reach it and pass it
ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1251", "shift_jis", "gb18030")
BOMS = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-32": b""}
READER_SUFFIXES = sorted(MEDIA_TYPES)
WORDS = st.sampled_from(
    [
        "Kishida",
        "Lavrov",
        "said",
        "the",
        "“We",
        "will”",
        "Moscow",
        "\u00a0",
        "\x00",
        "\x07",
        "é",
        "Путин",
        "東京",
        "<p>",
        "&amp;",
        "{",
        "]",
        "\r\n",
        "\n\n",
        "\ufeff",
        "\u2028",
    ]
)

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.lists(WORDS, max_size=200).map(" ".join)


def encoded(value: str, encoding: str, bom: bool) -> bytes:
    return (BOMS.get(encoding, b"") if bom else b"") + value.encode(encoding, errors="replace")


def nested(opener: str, closer: str, depth: int, inner: str) -> bytes:
    return (opener * depth + inner + closer * depth).encode("utf-8")


def rss(items: int, body: str) -> bytes:
    entries = "".join(
        f"<item><title>Item {i}</title><link>http://127.0.0.1/a/{i}</link><description>{body}</description></item>"
        for i in range(items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{entries}</channel></rss>'.encode()


content = st.one_of(
    st.binary(max_size=3_000),
    st.builds(encoded, text, st.sampled_from(ENCODINGS), st.booleans()),
    st.builds(lambda unit, times: unit * times, st.binary(min_size=1, max_size=40), st.integers(0, CAP // 10)),
    st.builds(
        nested,
        st.sampled_from(["<div>", "<p><span>", "<table><tr><td>", "[", '{"a":', "<a><b>"]),
        st.sampled_from(["</div>", "</span></p>", "</td></tr></table>", "]", "}", "</b></a>"]),
        st.integers(0, 60_000),
        st.sampled_from(["", "1", "Kishida met Lavrov.", '{"body": "x"}']),
    ),
    st.builds(
        lambda words, times: (" ".join(words) + " ") * times,
        st.lists(WORDS, min_size=1, max_size=20),
        st.integers(0, 5_000),
    ).map(lambda line: line.replace("\n", " ").encode("utf-8")),  # one huge line
    st.builds(lambda paragraph, times: "\n\n".join([paragraph] * times), text, st.integers(0, 3_000)).map(str.encode),
    st.builds(
        lambda items, body: json.dumps([{"title": f"T{i}", "body": body} for i in range(items)]),
        st.integers(0, 3_000),
        text,
    ).map(str.encode),
    st.builds(
        lambda items, body: "\n".join(json.dumps({"body": body, "url": f"http://127.0.0.1/{i}"}) for i in range(items)),
        st.integers(0, 3_000),
        text,
    ).map(str.encode),
    st.builds(rss, st.integers(0, 2_000), st.sampled_from(["", "Kishida met Lavrov.", "&lt;p&gt;x&lt;/p&gt;"])),
)

RULES = load_boilerplate_rules(Settings.from_env().boilerplate_file)
RAW = RawDocument("raw", "src", "input", datetime(2024, 1, 1, tzinfo=UTC), "sha", 0, None, Status.READ)


def read_as(data: bytes, suffix: str) -> None:
    """What the folder source does with a file's bytes once read: refusals are InputErrors, and each draft extracts
    and normalizes into an article or a refusal of its own, never an unforeseen error."""
    try:
        check_content(data)
        drafts, _ = read_drafts(data, RAW, suffix)
    except InputError as refused:
        assert str(refused)
        return
    for draft in drafts[:20]:
        extracted = extract_draft(draft)
        assert extracted.failure is None
        built = finish_article(extracted, RULES)
        assert "failed on this input" not in getattr(built, "reason", "")


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(content, st.sampled_from(READER_SUFFIXES))
@pytest.mark.slow
def test_every_reader_reads_or_refuses_with_a_reason(data: bytes, suffix: str) -> None:
    read_as(data, suffix)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(content)
def test_a_sitemap_reader_never_raises(data: bytes) -> None:
    parsed = parse_sitemap_bytes(data, "http://127.0.0.1/sitemap.xml", CAP)
    assert parsed.problem is None or parsed.note


files = st.dictionaries(
    st.tuples(st.text(alphabet="abcxyz_-", min_size=1, max_size=8), st.sampled_from([*READER_SUFFIXES, ".bin", ""])),
    content,
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(files)
# Found by this test in CI: 605 articles too short to pass, the batch-level rule stops the run (kept staged).
@example(
    {
        ("xx", ".atom"): b"\x88m",
        ("_", ".json"): json.dumps([{"title": f"T{i}", "body": "\u00a5\x13Egl"} for i in range(605)]).encode(),
    }
)
@pytest.mark.slow
def test_any_folder_completes_and_accounts_for_every_file_once(generated: dict[tuple[str, str], bytes]) -> None:
    from pipelines.pipeline import ingest_folder

    work = Path(tempfile.mkdtemp(prefix="newsflow-property-"))
    try:
        folder = work / "seeds"
        folder.mkdir()
        for (stem, suffix), data in generated.items():
            (folder / f"{stem}{suffix}").write_bytes(data)
        gx = gx_copy(work)
        run = Settings.from_env(
            seeds_dir=folder,
            db_path=work / "news.duckdb",
            staging_dir=work / "staging",
            gx_dir=gx,
            max_file_bytes=CAP,
            workers=1,
        )
        try:
            ingest_folder(run)
        except BatchValidationError:
            # The quality gate's one batch-level rule (over half of a source's 10+ articles refused: the source or
            # its extraction broke) stops the run on purpose: recorded as failed, the batch kept staged for replay.
            with duckdb.connect(str(run.db_path), read_only=True) as con:
                ((status, error),) = con.execute("SELECT status, error FROM ingest_runs").fetchall()
            assert status == "failed" and error.startswith("BatchValidationError"), error
            (staged,) = [path for path in run.staging_dir.iterdir() if path.is_dir()]
            rows = sorted(
                (row["uri"], row["status"], row["reason"]) for row in read_stage(staged).rows("raw_documents")
            )
        else:
            with duckdb.connect(str(run.db_path), read_only=True) as con:
                rows = con.execute("SELECT uri, status, reason FROM raw_documents ORDER BY uri").fetchall()
        assert [uri for uri, _, _ in rows] == sorted(path.name for path in folder.iterdir())  # each file exactly once
        for uri, status, reason in rows:
            assert status in ("loaded", "skipped", "quarantined"), (uri, status)
            assert status == "loaded" or reason, (uri, status)
    finally:
        shutil.rmtree(work, ignore_errors=True)

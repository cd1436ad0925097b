"""Data Docs: GX's HTML report of the suites and of every validation, made to render offline.

GX's templates load Bootstrap, jQuery and Vega from CDNs; every page written here is rewritten to
use the copies vendored in gx/docs_assets/, so the docs work on a machine without internet access
(served by `newsflow docs --serve` (pipelines.reporting.serve), or the Airflow UI's "Data quality" view).

GX lists every stored validation result on each docs build, so a feed polled every few minutes would
make each batch's docs slower by the day: the store keeps the newest KEPT_RESULTS results and older
ones move to the archive next to it. Their pages stay where they are, linked from ingest_runs.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import yaml

from pipelines.quality.context import open_context

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context import FileDataContext

GX_CONFIG_FILE = "great_expectations.yml"
SITE_NAME = "local_site"
ASSETS_DIRNAME = "docs_assets"  # inside the context dir: vendored CDN files and manifest.json
MANIFEST = "manifest.json"
SITE_VENDOR_DIR = "static/vendor"  # inside the Data Docs site
SITE_IMAGES_DIR = "static/images"  # GX copies its logo and favicon there
INDEX_PAGE = "index.html"
PAGE_NAME = "quality.html"  # the data-quality page (pipelines.reporting.page), beside the index
# Results GX lists on each build, 40 runs of 5 suites: more than the index shows (its validation_results_limit).
KEPT_RESULTS = 200
ARCHIVE_DIRNAME = "archive"  # next to the result store: results past KEPT_RESULTS, same layout
RESULT_PAGES_DIR = "validations"  # inside the site: result pages, laid out as the result store
# The navbar logo is loaded from GX's web bucket; the site has the same file locally.
GX_WEB_IMAGE = re.compile(
    r"https://great-expectations-web-assets\.s3\.[\w-]+\.amazonaws\.com/([\w.-]+)(?:\?[^\"']*)?(?=[\"'])"
)
# GX counts one folder too few for result pages (their favicon 404s); relink from the site root.
SITE_IMAGE_LINK = re.compile(r"(?<=[\"'])(?:\.\./)*static/images/")


def _config(context_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((context_dir / GX_CONFIG_FILE).read_text(encoding="utf-8"))


def site_dir(context_dir: Path) -> Path:
    """The Data Docs folder the context's config names, read from the YAML: readers (the CLI) skip GX's import."""
    return (
        context_dir / _config(context_dir)["data_docs_sites"][SITE_NAME]["store_backend"]["base_directory"]
    ).resolve()


def results_dir(context_dir: Path) -> Path:
    """The folder of the stored validation results (JSON), as the context's config names it."""
    config = _config(context_dir)
    store = config["stores"][config["validation_results_store_name"]]
    return (context_dir / store["store_backend"]["base_directory"]).resolve()


def stored_results(context_dir: Path) -> list[Path]:
    """The stored results, newest first: GX files each under <suite>/<run name>/<run start time>/.

    os.walk, as GX's own listing, passes over a folder a concurrent validation archives meanwhile.
    """
    found = [
        Path(root, name)
        for root, _, names in os.walk(results_dir(context_dir))
        for name in names
        if name.endswith(".json")
    ]
    return sorted(found, key=lambda path: (path.parent.name, str(path)), reverse=True)


def result_page(context_dir: Path, result: Path) -> Path:
    """The page of a stored result: the site files it under the same folders."""
    relative = result.relative_to(results_dir(context_dir)).with_suffix(".html")
    return site_dir(context_dir) / RESULT_PAGES_DIR / relative


def archive_old_results(context_dir: Path, keep: int) -> None:
    """Move all but the newest `keep` stored results to the archive (same folders), out of GX's sight; pages stay."""
    store = results_dir(context_dir)
    archive = store.parent / ARCHIVE_DIRNAME
    for result in stored_results(context_dir)[keep:]:
        target = archive / result.relative_to(store)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            result.replace(target)
        except FileNotFoundError:  # a concurrent validation archived it first
            continue
        folder = result.parent
        while folder != store:  # GX walks every folder of the store: drop the emptied ones
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


@functools.lru_cache(maxsize=4)
def vendored_urls(assets_dir: Path) -> dict[str, str]:
    """CDN URL -> the vendored file, relative to the site's vendor dir, from docs_assets/manifest.json."""
    manifest = json.loads((assets_dir / MANIFEST).read_text(encoding="utf-8"))
    return {
        url: f"{spec}/{name}"
        for spec, files in manifest["packages"].items()
        for name, urls in files.items()
        for url in urls
    }


def _install_assets(assets_dir: Path, site: Path) -> None:
    """Copy the vendored assets into the site once per manifest version, so the site stands alone."""
    target = site / SITE_VENDOR_DIR
    manifest = (assets_dir / MANIFEST).read_bytes()
    if (target / MANIFEST).is_file() and (target / MANIFEST).read_bytes() == manifest:
        return
    shutil.copytree(assets_dir, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py"))


def _make_offline(html_path: Path, site: Path, urls: Mapping[str, str]) -> None:
    """Point one page's CDN links at the vendored copies and its GX images at the site's own, relative to the page."""
    cdn = re.compile("|".join(re.escape(url) for url in sorted(urls, key=len, reverse=True)) + r"(?=[\"'])")
    root = "../" * len(html_path.parent.relative_to(site).parts)
    text = html_path.read_text(encoding="utf-8")
    offline = cdn.sub(lambda match: f"{root}{SITE_VENDOR_DIR}/{urls[match.group(0)]}", text)
    offline = GX_WEB_IMAGE.sub(lambda match: f"{root}{SITE_IMAGES_DIR}/{match.group(1)}", offline)
    offline = SITE_IMAGE_LINK.sub(f"{root}{SITE_IMAGES_DIR}/", offline)
    if offline != text:
        html_path.write_text(offline, encoding="utf-8")


def _offline_site(context_dir: Path, pages: Iterable[Path]) -> None:
    assets_dir = context_dir / ASSETS_DIRNAME
    site = site_dir(context_dir)
    _install_assets(assets_dir, site)
    urls = vendored_urls(assets_dir)
    for page in pages:
        _make_offline(page, site, urls)


def _page(context: FileDataContext, identifier: Any) -> Path:
    """Where the local site keeps the page of a suite or of a validation result (it may not exist yet)."""
    url = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE_NAME, only_if_exists=False)[0]
    return Path(unquote(urlparse(url["site_url"]).path)).resolve()


def _batch_id(result: ExpectationSuiteValidationResult) -> str:
    config = result.results[0].expectation_config
    assert config is not None, "GX returns each result with its expectation"
    return str(config.kwargs["batch_id"])


def build_result_docs(context_dir: Path, results: Sequence[ExpectationSuiteValidationResult]) -> dict[str, Path]:
    """Render only this run's result pages, the suites' pages and the index; return suite name -> result page."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = open_context(context_dir)
    suites = [ExpectationSuiteIdentifier(name=result.suite_name) for result in results]
    # GX stamps the batch id into every expectation's kwargs; results and their pages are keyed by it.
    identifiers = [
        ValidationResultIdentifier(suite, result.meta["run_id"], _batch_id(result))
        for suite, result in zip(suites, results, strict=True)
    ]
    # Suite pages change only with the suite files; `build_docs` re-renders them, here only missing ones are.
    missing = [suite for suite in suites if not _page(context, suite).is_file()]
    archive_old_results(context_dir, KEPT_RESULTS)  # before GX lists the store; this run's results are the newest
    # One build for both kinds of page: GX renders a mixed list, though its annotation names one kind per call.
    pages_to_build: list[Any] = [*identifiers, *missing]
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=pages_to_build)
    pages = {identifier.expectation_suite_identifier.name: _page(context, identifier) for identifier in identifiers}
    index = site_dir(context_dir) / INDEX_PAGE
    _offline_site(context_dir, [index, *pages.values(), *(_page(context, suite) for suite in missing)])
    return pages


def build_docs(context_dir: Path) -> Path:
    """Re-render the pages of the stored results and of the suites, and the index, offline-ready; return the index.

    Pages of archived results are left as they were rendered.
    """
    context_dir = context_dir.resolve()
    archive_old_results(context_dir, KEPT_RESULTS)
    open_context(context_dir).build_data_docs(site_names=[SITE_NAME])
    site = site_dir(context_dir)
    stored = (result_page(context_dir, result) for result in stored_results(context_dir))
    _offline_site(context_dir, [site / INDEX_PAGE, *site.glob("expectations/**/*.html"), *stored])
    return site / INDEX_PAGE

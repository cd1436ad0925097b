"""The Data Docs index, listing what the stores hold rather than every page on the site.

GX's own index builder walks the whole site twice (for suite pages, then result pages, parsing each
result folder's name as a date: seconds per thousand runs, on every batch) and deletes the pages
whose result or suite is no longer stored. newsflow stores only the newest results
(`docs.KEPT_RESULTS`) and keeps every page, since `ingest_runs.quality_pages` links them, so its
index lists the stored suites and results that have a page and deletes nothing.
gx/great_expectations.yml names this class; GX imports it when it builds the docs.
"""

from __future__ import annotations

from collections import OrderedDict

from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.render.renderer.site_builder import DefaultSiteIndexBuilder


class StoredResultsIndexBuilder(DefaultSiteIndexBuilder):
    """GX's default index; only where it finds the suites and results to list differs."""

    def _add_expectations_to_index_links(self, index_links_dict: OrderedDict, skip_and_clean_missing: bool) -> None:
        pages = self.target_store.store_backends[ExpectationSuiteIdentifier]
        for suite in self.data_context.stores[self.source_stores["expectations"]].list_keys():
            if pages.has_key(suite.to_tuple()):
                self.add_resource_info_to_index_links_dict(
                    index_links_dict=index_links_dict, expectation_suite_name=suite.name, section_name="expectations"
                )

    def _build_validation_and_profiling_result_site_keys(
        self, skip_and_clean_missing: bool
    ) -> list[ValidationResultIdentifier]:
        pages = self.target_store.store_backends[ValidationResultIdentifier]
        stored = self.data_context.stores[self.source_stores["validations"]].list_keys()
        return [key for key in stored if pages.has_key(key.to_tuple())]

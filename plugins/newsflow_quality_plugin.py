"""Airflow UI entry "Data quality": newsflow's data-quality page and the GX Data Docs, for signed-in users only.

Both are served by the API server. The page (`pipelines.reporting.refresh`) is built from the published snapshot
on every request, so feed states and next polls are current; the Data Docs' files are served beside it, so its
relative links to result pages work. Airflow mounts a plugin's FastAPI app without its own authentication, so
every route here depends on the UI's access check; the browser's UI session cookie authenticates the embedded page.
"""

from __future__ import annotations

from pathlib import Path

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import requires_access_view
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from pipelines.config import Settings
from pipelines.quality.docs import INDEX_PAGE, PAGE_NAME, site_dir

URL_PREFIX = "/newsflow-quality"
# Plugin pages sit beside the UI's own, so the same permission that shows plugins shows this one.
require_ui_access = requires_access_view(AccessView.PLUGINS)


def docs_file(docs_dir: Path, path: str) -> Path:
    """The file a URL path names inside the docs folder; anything outside it, or missing, is a 404."""
    root = docs_dir.resolve()
    target = (root / path).resolve()
    if target.is_dir():
        target = target / INDEX_PAGE
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(
            status_code=404, detail=f"no Data Docs page {path!r}; run a validation or `newsflow docs` first"
        )
    return target


def create_app(settings: Settings) -> FastAPI:
    """The quality page (built per request) and the docs folder's pages, each behind the UI's access check."""
    app = FastAPI(title="newsflow data quality", dependencies=[Depends(require_ui_access)])
    docs_dir = site_dir(settings.gx_dir)

    @app.get(f"/{PAGE_NAME}", response_class=HTMLResponse)
    def quality_page() -> str:
        # Imported on first request: processes that only load plugins (scheduler, workers) never pay for it.
        from pipelines.reporting.refresh import build_quality_page

        return build_quality_page(settings)

    @app.get("/{path:path}")
    def serve(path: str) -> FileResponse:
        return FileResponse(docs_file(docs_dir, path))

    return app


class NewsflowQualityPlugin(AirflowPlugin):
    name = "newsflow_quality"
    # Lists, as AirflowPlugin declares them: Airflow removes invalid entries from external_views in place.
    fastapi_apps = [  # noqa: RUF012  # AirflowPlugin declares it `list[Any]`: a ClassVar here is a mypy error
        {"app": create_app(Settings.from_env()), "url_prefix": URL_PREFIX, "name": "newsflow data quality"},
    ]
    external_views = [  # noqa: RUF012  # AirflowPlugin declares it `list[Any]`: a ClassVar here is a mypy error
        {
            "name": "Data quality",
            "href": f"{URL_PREFIX.lstrip('/')}/{PAGE_NAME}",
            "destination": "nav",
            "url_route": "data-quality",
        }
    ]

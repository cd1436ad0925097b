"""Data Docs hosting: the site folder, with the data-quality page beside its index, over HTTP on localhost."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def docs_server(path: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for the Data Docs folder (or the folder of the given page), bound but not yet serving."""
    root = path if path.is_dir() else path.parent
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    return ThreadingHTTPServer((host, port), handler)


def serve_docs(path: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the Data Docs on localhost until interrupted (`newsflow docs --serve`)."""
    with docs_server(path, host, port) as server:
        server.serve_forever()

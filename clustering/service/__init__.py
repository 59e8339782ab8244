"""The feed service: an HTTP API over one DuckDB store for news apps that deduplicate their feed
before display, and the story browser (HTML) for editors.

``create_app(db_path, token=..., config=..., max_body_bytes=...)`` builds the FastAPI app;
``news-cluster serve --db PATH`` runs it on uvicorn. See the README section "Feed service".
"""

from .app import MAX_BODY_BYTES, TOKEN_ENV, create_app
from .engine import Engine

__all__ = ["MAX_BODY_BYTES", "TOKEN_ENV", "Engine", "create_app"]

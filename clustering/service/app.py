"""The feed service over HTTP (FastAPI): :func:`create_app`.

JSON API under ``/v1`` (articles in, the deduplicated feed, stories, timelines, explain), the
story browser under ``/stories`` (HTML), ``/healthz`` and the OpenAPI schema at
``/openapi.json``. The app owns one :class:`~clustering.service.engine.Engine` (the single
writer of the DuckDB file) from start-up to shutdown.
"""

from __future__ import annotations

import hmac
import json
import os
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from clustering import __version__
from clustering.config import Config
from clustering.io.readers import parse_published
from clustering.store import StoreError, as_utc

from . import pages
from .engine import Engine

#: Request bodies larger than this get 413 (1 MiB: about 100 long articles).
MAX_BODY_BYTES = 1 << 20
#: The environment variable read for the write token when ``token`` is not given.
TOKEN_ENV = "NEWS_CLUSTER_TOKEN"

_ARTICLE_SCHEMA = {
    "type": "object",
    "description": "An article with the fields the readers take (aliases such as body, "
                   "timestamp, headline, doc_id work; other keys are ignored).",
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "text": {"type": "string"},
                   "published": {"type": "string", "description": "ISO 8601 or Unix epoch"},
                   "source": {"type": "string"}, "url": {"type": "string"}, "lang": {"type": "string"}},
    "required": ["id"],
}
_POST_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "oneOf": [_ARTICLE_SCHEMA, {"type": "array", "items": _ARTICLE_SCHEMA}]}}}}}


class BodyLimit:
    """ASGI middleware: a request whose body exceeds ``max_bytes`` (by Content-Length, or as
    it streams in) gets 413 before the app sees it."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        too_big = JSONResponse({"detail": f"request body over {self.max_bytes} bytes"}, status_code=413)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await too_big(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:  # read it all (bounded) so the app gets the body in one piece
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await too_big(scope, receive, send)
            more = msg.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _time(value: str | None, name: str) -> datetime | None:
    try:
        return parse_published(value.strip()) if value and value.strip() else None
    except (ValueError, OverflowError, OSError):
        raise HTTPException(422, f"{name}: not a time (ISO 8601 or Unix epoch): {value!r}") from None


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    s, u = _time(since, "since"), _time(until, "until")
    if s is not None and u is not None and s > u:
        raise HTTPException(422, f"empty window: since {s.isoformat()} is after until {u.isoformat()}")
    return s, u


def create_app(db_path: str | Path, *, token: str | None = None, config: Config | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, embedder: Any = None) -> FastAPI:
    """The feed service app over one DuckDB file.

    Args:
        db_path: the database (created when missing); the app is its single writer while it runs
            (opened at start-up, closed at shutdown).
        token: writes need ``Authorization: Bearer <token>`` (401 otherwise); None reads
            ``$NEWS_CLUSTER_TOKEN``; empty or unset: writes are open.
        config: every setting (default :class:`~clustering.config.Config`, stories online).
        max_body_bytes: larger request bodies get 413.
        embedder: a loaded :class:`~clustering.embed.Embedder` to share (tests; built otherwise).

    Returns:
        A FastAPI (ASGI) app; serve it with uvicorn. Opening the store at start-up raises
        :class:`~clustering.store.StoreError` when the file is locked by another writer.
    """
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    state: dict[str, Engine] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = Engine(db_path, config, embedder=embedder)
        engine.warm_up()
        state["engine"] = engine
        try:
            yield
        finally:
            state.pop("engine").close()

    app = FastAPI(title="news-clustering feed service", version=__version__, lifespan=lifespan,
                  description="Near-duplicate folding and story clustering of news articles, "
                              "kept in one DuckDB file.")
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    bearer = HTTPBearer(auto_error=False)

    def engine() -> Engine:
        if "engine" not in state:
            raise HTTPException(503, "starting")
        return state["engine"]

    def writer_auth(cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token and (cred is None or not hmac.compare_digest(cred.credentials.encode(), token.encode())):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """200 once the store is open and the embedding model is loaded."""
        eng = engine()
        return {"status": "ok", "version": __version__, "articles": eng.article_count(),
                "stories": eng.config.stories.mode}

    @app.post("/v1/articles", tags=["articles"], openapi_extra=_POST_BODY,
              dependencies=[Depends(writer_auth)],
              responses={401: {"description": "missing or wrong bearer token"},
                         413: {"description": "body over the size limit"},
                         422: {"description": "invalid article(s): a one-line reason each; the "
                                              "valid ones of a batch are stored"}})
    async def post_articles(request: Request) -> JSONResponse:
        """Ingest one article (a JSON object) or a batch (a JSON list) as one transaction,
        durable when the answer is sent. Answers per article: id, dup_group,
        representative_id, is_duplicate, similarity, story_id, status."""
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(422, f"body is not JSON: {str(exc).splitlines()[0]}") from None
        single = isinstance(body, dict)
        if not single and not isinstance(body, list):
            raise HTTPException(422, "body must be an article object or a list of them")
        eng = engine()
        from starlette.concurrency import run_in_threadpool

        try:
            results = await run_in_threadpool(eng.post, [body] if single else body)
        except StoreError as exc:
            raise HTTPException(503, str(exc)) from None
        rejected = [r for r in results if r["status"] == "rejected"]
        if single:
            r = results[0]
            if rejected:
                return JSONResponse({"detail": r["error"], **r}, status_code=422)
            return JSONResponse(r)
        payload = {"stored": sum(r["status"] == "stored" for r in results),
                   "already_stored": sum(r["status"] == "already stored" for r in results),
                   "rejected": len(rejected), "results": results}
        if rejected:
            first = rejected[0]
            payload["detail"] = (f"{len(rejected)} of {len(results)} article(s) rejected; first: "
                                 f"#{first['index']}: {first['error']}")
            return JSONResponse(payload, status_code=422)
        return JSONResponse(payload)

    @app.get("/v1/feed", tags=["feed"])
    def feed(since: str | None = None, until: str | None = None,
             limit: int = Query(50, ge=1, le=1000), source: str | None = None) -> dict[str, Any]:
        """The feed with each near-duplicate group once, newest first: the representative's
        fields plus dup_group, duplicates (ids and sources of the copies) and story_id."""
        s, u = _window(since, until)
        with engine().read() as nc:
            items = nc.store.feed_page(since=s, until=u, source=source, limit=limit)
        return {"items": items, "count": len(items)}

    @app.get("/v1/stories", tags=["stories"])
    def stories(since: str | None = None, until: str | None = None, source: str | None = None,
                limit: int = Query(50, ge=1, le=1000), min_size: int = Query(1, ge=1)) -> dict[str, Any]:
        """Stories overlapping [since, until], largest first."""
        s, u = _window(since, until)
        with engine().read() as nc:
            try:
                items = nc.stories(since=s, until=u, source=source, limit=limit, min_size=min_size)
            except StoreError as exc:
                raise HTTPException(404, str(exc)) from None
        return {"stories": items, "count": len(items)}

    @app.get("/v1/stories/{story_id}", tags=["stories"], responses={404: {"description": "unknown story"}})
    def story(story_id: str) -> dict[str, Any]:
        """A story's timeline: its articles in time order and its events."""
        with engine().read() as nc:
            try:
                return nc.timeline(story_id)
            except StoreError as exc:
                raise HTTPException(404, str(exc)) from None

    @app.get("/v1/explain", tags=["articles"], responses={404: {"description": "unknown article"}})
    def explain(a: str, b: str) -> dict[str, Any]:
        """Why two stored articles are or are not near-duplicates (and in one story)."""
        with engine().read() as nc:
            try:
                return json.loads(json.dumps(nc.explain(a, b), default=str))
            except StoreError as exc:
                raise HTTPException(404, str(exc)) from None

    @app.get("/stories", response_class=HTMLResponse, tags=["story browser"])
    def stories_html(day: str | None = None, limit: int = Query(500, ge=1, le=1000)) -> HTMLResponse:
        """The story browser: one day's stories (default: the newest day with a story), largest
        first."""
        with engine().read() as nc:
            if day:
                try:
                    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
                except ValueError:
                    return HTMLResponse(pages.error_page(422, f"day must be YYYY-MM-DD, got {day!r}"), 422)
            else:
                newest = as_utc(nc.store.newest_story_time())
                if newest is None:
                    return HTMLResponse(pages.stories_page([], day=None, days=(None, None)))
                start = newest.replace(hour=0, minute=0, second=0, microsecond=0)
            end = start + timedelta(days=1) - timedelta(microseconds=1)
            items = nc.stories(since=start, until=end, limit=limit)
        one = timedelta(days=1)
        return HTMLResponse(pages.stories_page(items, day=f"{start:%Y-%m-%d}",
                                               days=(f"{start - one:%Y-%m-%d}", f"{start + one:%Y-%m-%d}")))

    @app.get("/stories/{story_id}", response_class=HTMLResponse, tags=["story browser"])
    def story_html(story_id: str) -> HTMLResponse:
        """The story browser: one story's timeline."""
        with engine().read() as nc:
            try:
                t = nc.timeline(story_id)
            except StoreError as exc:
                return HTMLResponse(pages.error_page(404, str(exc)), 404)
        return HTMLResponse(pages.timeline_page(t))

    return app

"""Property-based API test: schemathesis generates requests from the live server's
``/openapi.json`` (bounded examples per operation) and no answer may be a server error."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from clustering import Config
from clustering.io.page import read_page
from clustering.service import create_app

from .conftest import SEED_PAGE
from .live_server import live_server
from .test_service import records


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    app = create_app(tmp_path_factory.mktemp("schema") / "s.duckdb",
                     config=Config().replace(stories={"mode": "none"}), max_body_bytes=64 << 10)
    with live_server(app) as base:
        # something stored, so that reads and explain have rows to work on
        assert httpx.post(base + "/v1/articles", json=records(read_page(SEED_PAGE)[0]),
                          timeout=60).status_code == 200
        yield base


def _exercise(op, seen: dict[str, set[int]]) -> None:
    """Run up to 15 generated requests against one operation; none may answer 5xx."""

    @given(case=op.as_strategy())
    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(timeout=60)
        seen.setdefault(op.label, set()).add(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])

    check()


def test_no_request_gets_a_server_error(base_url):
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    seen: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        _exercise(result.ok(), seen)
    assert len(seen) == 8, sorted(seen)           # every operation of the schema was exercised
    assert 200 in seen["POST /v1/articles"] and 422 in seen["POST /v1/articles"]

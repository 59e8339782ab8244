"""A real uvicorn server on 127.0.0.1 (a free port) in a thread, for the service and browser
tests: ``with live_server(app) as base_url: httpx.get(base_url + "/healthz")``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base: str, timeout: float = 120.0) -> dict:
    """Poll ``/healthz`` until it answers 200; returns its JSON. Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(base + "/healthz", timeout=5)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base}/healthz did not answer 200 in {timeout} s")


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` until the block ends (then shut down, which closes the store)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        assert not thread.is_alive(), "server did not stop"

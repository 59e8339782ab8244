"""The store's own writer process: a :class:`~clustering.store.Store` on a database file, opened
in a short-lived child process and driven by method calls over a pipe.

A Ray run (:mod:`clustering.distributed`) writes through it, so that DuckDB -- the bulk loads of
the run's Parquet shards, the one commit and the reader snapshot's copy -- lives in the child and
the driver's memory does not grow with the store: DuckDB's ART indexes (~1.5 KB per stored
article) cannot spill, and a commit and the snapshot copy hold them whole
(benchmarks/RESULTS.md, "Ray Data engine"). The child only calls :class:`Store` methods, so the
SQL stays in this package.

DuckDB allows one writing process per file: :func:`writer_process` closes the caller's
connection (:meth:`~clustering.store.base.StoreBase.released`) while the child has the file
open, and reopens it after the child has exited.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .base import StoreError

__all__ = ["RemoteStore", "writer_process"]

#: Seconds :meth:`RemoteStore.close` waits for the child to exit before killing it.
CLOSE_WAIT_S = 60.0


def _memory() -> dict[str, float]:
    """This process's resident memory now and its peak (MiB, /proc/self/status VmRSS, VmHWM)."""
    out = {"rss_mb": float("nan"), "peak_rss_mb": float("nan")}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mb"] = round(int(line.split()[1]) / 1024, 1)
            elif line.startswith("VmHWM:"):
                out["peak_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:  # not Linux
        pass
    return out


def _portable(exc: BaseException, path: str) -> BaseException:
    """``exc`` as the driver should see it: DuckDB's own errors (and anything that does not
    survive pickling) become one :class:`StoreError` line naming the file; the child's traceback
    is kept as a note."""
    import duckdb

    where = "".join(traceback.format_exception(exc)).rstrip()
    out: BaseException | None = None
    if not isinstance(exc, duckdb.Error):
        try:
            out = pickle.loads(pickle.dumps(exc))
        except Exception:  # noqa: BLE001 - any unpicklable exception becomes a StoreError
            out = None
    if out is None:
        first = (str(exc).splitlines() or [""])[0]
        out = StoreError(f"{path}: the store's writer process failed ({type(exc).__name__}: {first})")
    out.add_note("in the store's writer process:\n" + where)
    return out


def _serve(recv: Connection, send: Connection, path: str, publish_snapshot: bool) -> None:
    """The child's loop: open the store, answer requests ``(op, name, args, kwargs)`` from
    ``recv`` on ``send`` with ``("ok", result)`` or ``("err", exception)`` until "close" or the
    driver goes away; a transaction still open then is rolled back."""
    # Ctrl-C reaches the whole process group: the driver decides (rollback, close), not the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from . import Store

    try:
        store = Store(path, publish_snapshot=publish_snapshot)
    except BaseException as exc:  # noqa: BLE001 - reported to the driver
        send.send(("err", _portable(exc, path)))
        return
    send.send(("ok", None))
    entered: list[Any] = []  # context managers the driver is inside (memory_limited, transaction)
    closing = False
    try:
        while not closing:
            try:
                op, name, args, kwargs = recv.recv()
            except (EOFError, OSError):  # the driver died: roll back below
                return
            try:
                if op == "call":
                    result = getattr(store, name)(*args, **kwargs)
                elif op == "enter":
                    cm = getattr(store, name)(*args, **kwargs)
                    cm.__enter__()
                    entered.append(cm)
                    result = None
                elif op == "exit":
                    cm = entered.pop()
                    if args[0]:  # the driver failed inside the block: roll back / restore
                        err = RuntimeError("the driver failed inside the block")
                        cm.__exit__(RuntimeError, err, None)
                    else:
                        cm.__exit__(None, None, None)
                    result = None
                elif op == "memory":
                    result = _memory()
                elif op == "close":
                    closing = True
                    continue
                else:
                    raise ValueError(f"unknown request {op!r}")
                send.send(("ok", result))
            except BaseException as exc:  # noqa: BLE001 - reported to the driver
                send.send(("err", _portable(exc, path)))
    finally:
        while entered:  # only after a driver that died or closed inside a block
            with suppress(BaseException):
                entered.pop().__exit__(RuntimeError, RuntimeError("closed inside the block"), None)
        try:
            store.close()
        except BaseException as exc:  # noqa: BLE001
            if closing:
                send.send(("err", _portable(exc, path)))
                return
        if closing:
            send.send(("ok", _memory()))


class RemoteStore:
    """A :class:`~clustering.store.Store` opened on ``path`` in a child process (spawned): any
    public store method called on this object runs there (arguments and results are pickled),
    and :meth:`transaction` and :meth:`memory_limited` enter the store's own blocks there.

    Args:
        path: the database file (not ``":memory:"``, which a second process cannot see).
        publish_snapshot: publish the reader snapshot after each commit (as :class:`Store`).

    Raises:
        StoreError: the child cannot open the file (locked by another writer, not DuckDB), or,
            from any call, the child failed (DuckDB's errors, one line naming the file) or exited
            (killed, out of memory): its open transaction is then not committed, and every later
            call raises the same error.

    Attributes:
        stats: after :meth:`close`, the child's ``rss_mb`` and ``peak_rss_mb`` (MiB) at its end.
    """

    read_only = False
    from_snapshot = False

    def __init__(self, path: str | Path, *, publish_snapshot: bool = True):
        if str(path) == ":memory:":
            raise StoreError("an in-memory store cannot be written by another process")
        self.path = Path(path)
        self.stats: dict[str, float] = {}
        self._dead: str | None = None
        # a fresh interpreter running this module (not a fork of a driver running Ray's
        # threads, nor multiprocessing's spawn, which re-imports the caller's __main__), talking
        # over two pipes of its own: its stdout stays free for whatever DuckDB might print
        to_child, from_child = os.pipe(), os.pipe()
        root = str(Path(__file__).resolve().parents[2])  # the folder holding clustering/
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [root, *filter(None, [os.environ.get("PYTHONPATH")])]))
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "clustering.store.writer", str(path), str(int(publish_snapshot)),
                 str(to_child[0]), str(from_child[1])],
                pass_fds=(to_child[0], from_child[1]), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, env=env)
        finally:
            # only the child holds its ends: its exit shows here as EOF, ours there
            os.close(to_child[0])
            os.close(from_child[1])
        self._send = Connection(to_child[1], readable=False)
        self._recv = Connection(from_child[0], writable=False)
        try:
            self._reply()
        except BaseException:
            self._end()
            raise

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._proc.pid

    def _end(self) -> None:
        """Wait for the child (killed after ``CLOSE_WAIT_S``), close the pipes."""
        try:
            self._proc.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._send.close()
        self._recv.close()

    def _reply(self) -> Any:
        try:
            status, value = self._recv.recv()
        except (EOFError, OSError) as exc:
            try:
                code = self._proc.wait(5)
            except subprocess.TimeoutExpired:
                code = None
            self._dead = (f"{self.path}: the store's writer process exited (code {code}); "
                          "its open transaction was not committed")
            raise StoreError(self._dead) from exc
        if status == "err":
            raise value
        return value

    def _request(self, op: str, name: str | None = None, args: tuple = (), kwargs: dict | None = None) -> Any:
        if self._dead:
            raise StoreError(self._dead)
        try:
            self._send.send((op, name, args, kwargs or {}))
        except (BrokenPipeError, OSError):
            return self._reply()  # the child is gone: the same error as a lost reply
        return self._reply()

    def __getattr__(self, name: str):
        # only public store methods travel; the connection and private state stay in the child
        if name.startswith("_") or name in ("con", "reader"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._request("call", name, args, kwargs)

        call.__name__ = name
        return call

    @contextmanager
    def _block(self, name: str, *args: Any) -> Iterator[None]:
        self._request("enter", name, args)
        try:
            yield
        except BaseException:
            if not self._dead:
                with suppress(StoreError):  # the original error is the one to report
                    self._request("exit", None, (True,))
            raise
        self._request("exit", None, (False,))

    def transaction(self):
        """The store's :meth:`~clustering.store.base.StoreBase.transaction`, in the child: a
        failure inside the block (here or there) rolls it back; leaving it commits and
        publishes the snapshot there."""
        return self._block("transaction")

    def memory_limited(self, mb: int):
        """The store's :meth:`~clustering.store.bulk.BulkExchange.memory_limited` (MiB), in the
        child."""
        return self._block("memory_limited", mb)

    def writer_memory(self) -> dict[str, float]:
        """The child's resident memory now and its peak so far (MiB: ``rss_mb``,
        ``peak_rss_mb``)."""
        return self._request("memory")

    def close(self) -> None:
        """Close the store in the child (publishing a held-back snapshot, rolling back a block
        left open) and wait for it to exit; fills :attr:`stats`. Never raises for a child that
        already exited.

        Raises:
            StoreError: closing the store failed in the child.
        """
        try:
            if not self._dead:
                try:
                    self.stats = self._request("close")
                except StoreError:
                    if self._dead:  # exited: nothing left to close
                        return
                    raise
        finally:
            self._end()


@contextmanager
def writer_process(store, enabled: bool = True) -> Iterator[Any]:
    """Inside the block, a handle whose writes happen in the store's own writer process
    (:class:`RemoteStore`), with ``store``'s connection closed meanwhile and reopened after the
    child exited; ``store`` itself when ``enabled`` is False or the store cannot be shared with
    another process (in memory, read-only).

    Args:
        store: an open :class:`~clustering.store.Store`.
        enabled: False keeps every write in this process.

    Raises:
        StoreError: the child cannot open the file or failed (see :class:`RemoteStore`), or the
            file cannot be reopened here afterwards.
    """
    if not enabled or not store._file or store.read_only:
        yield store
        return
    with store.released():
        remote = RemoteStore(store.path, publish_snapshot=store._publish)
        try:
            yield remote
        finally:
            remote.close()


if __name__ == "__main__":  # the child: python -m clustering.store.writer PATH PUBLISH IN_FD OUT_FD
    _path, _publish, _in, _out = sys.argv[1:5]
    _serve(Connection(int(_in), writable=False), Connection(int(_out), readable=False), _path, _publish == "1")

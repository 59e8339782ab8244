"""Adding one article: milliseconds per ``NewsClusterer.ingest([record])`` (stories off) into a
store held open with N stored articles, for N = 2k, 44k (the 14 EgyNews days) and larger
synthetic archives; optionally beside another checkout of the code (before/after in one run).

States:

- 2k / 44k: one big ``ingest`` of the first 2,000 records / all 14 days, made by the *baseline*
  code (``--before``, else this checkout), so both codes start from the same file (this
  checkout adds its indexes when it opens it, outside the timed calls).
- ``x R``: the 44k state copied R times with new ids (``~rK`` suffixes on article, group and
  item ids, content hashes and canonical URLs) and band keys XOR-ed with a per-copy constant, so
  the copies are distinct archives that no new article matches: the tables grow R-fold while
  each new article still finds only its own near-duplicates (those of copy 0), as in a larger
  archive of different news. Built with SQL on a copy of the file (a benchmark tool, not engine
  code).

Each timed article is a real EgyNews record of the 14 days (bodies over 400 characters) without
its first sentence, under a new id: a near-duplicate of a stored article, not an exact repeat,
so every call runs the whole path (LSH lookup, verification, joining a stored group); one
warm-up call first. Every measurement runs in its own process holding the store
open (as the feed service does). Per state and code: median and p99 wall milliseconds
per call, and the median CPU milliseconds of the process (all its threads; less inflated than
wall time on a machine shared with other jobs). ``--profile`` also lists every SQL statement of a call with
its median milliseconds (timing around the DuckDB calls of the store).

Command: ``python benchmarks/bench_ingest_one.py --before /work/main --copies 5``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, egynews_days, table, write_jsonl

_INGEST = """
import json, re, sys, time
from collections import defaultdict
from clustering import Config, NewsClusterer
src, db, profile = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
rows = [json.loads(line) for line in open(src, encoding="utf-8")]
log = []

class Timed:  # times every statement the store sends to DuckDB
    def __init__(self, con):
        self._con = con
    def execute(self, sql, params=None):
        t0 = time.perf_counter()
        r = self._con.execute(sql, params or [])
        log.append((sql, time.perf_counter() - t0))
        return r
    def __getattr__(self, k):
        return getattr(self._con, k)

secs, cpu, per = [], [], defaultdict(list)
with NewsClusterer(db, Config().replace(stories={"mode": "none"})) as nc:
    if profile:
        nc.store.con = Timed(nc.store.con)
    for k, r in enumerate(rows):
        log.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        nc.ingest([r], overview=False)
        secs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if k:
            agg = defaultdict(float)
            for sql, t in log:
                key = re.sub(r"_(arrow|snapshot)_\\d+", "_T", sql)
                key = re.sub(r"IN \\([-0-9?, ]+\\)", "IN (...)", key)
                agg[key[:110]] += t
            for key, t in agg.items():
                per[key].append(t)
print(json.dumps({"seconds": secs[1:], "cpu": cpu[1:], "statements": len(log),
                  "sql_ms": {k: 1000 * statistics.median(v) for k, v in per.items()}}))
""".replace("import json, re, sys, time", "import json, re, statistics, sys, time")

_BUILD = """
import sys
from clustering import Config, NewsClusterer
with NewsClusterer(sys.argv[2], Config().replace(stories={"mode": "none"})) as nc:
    nc.ingest([sys.argv[1]])
"""

#: Per-copy SQL of the synthetic archive: {r} copy number, {s} seq offset, {x} band-key salt.
_COPY = [
    "INSERT INTO articles (id, seq, run_id, title, text, published, source, url, canonical_url, lang, "
    "listed_on, input_order, content_hash, version) SELECT id || '~r{r}', seq + {s}, run_id, title, text, "
    "published, source, url, canonical_url || '~r{r}', lang, listed_on, input_order, "
    "content_hash || '~r{r}', version FROM articles WHERE seq < {n}",
    "INSERT INTO signatures SELECT s.article_id || '~r{r}', s.config, s.kind, s.sig FROM signatures s "
    "WHERE s.article_id NOT LIKE '%~r%'",
    "INSERT INTO lsh_bands SELECT config, xor(key, {x}), item || '~r{r}' FROM lsh_bands WHERE item NOT LIKE '%~r%'",
    "INSERT INTO dup_members SELECT article_id || '~r{r}', group_id || '~r{r}', similarity, "
    "joined_via || '~r{r}', rule, run_id FROM dup_members WHERE article_id NOT LIKE '%~r%'",
    "INSERT INTO dup_groups SELECT group_id || '~r{r}', representative_id || '~r{r}', size, run_id "
    "FROM dup_groups WHERE group_id NOT LIKE '%~r%'",
]


def _py(code_dir: Path, code: str, *args: str) -> dict | None:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         cwd=code_dir, env={"PYTHONPATH": str(code_dir), "HF_HUB_OFFLINE": "1",
                                            "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def _copies(base: Path, dest: Path, copies: int) -> int:
    """The synthetic archive: ``base`` copied ``copies`` times (see the module docstring)."""
    import duckdb

    shutil.copy(base, dest)
    con = duckdb.connect(str(dest))
    n = int(con.execute("SELECT max(seq) + 1 FROM articles").fetchall()[0][0])
    con.execute("BEGIN TRANSACTION")
    for r in range(1, copies):
        salt = (0x9E3779B97F4A7C15 * r) % (1 << 63)
        for sql in _COPY:
            con.execute(sql.format(r=r, s=r * n, n=n, x=salt))
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    total = int(con.execute("SELECT count(*) FROM articles").fetchall()[0][0])
    con.close()
    return total


def _states(tmp: Path, base_code: Path, copies: list[int], prebuilt: Path | None
            ) -> list[tuple[str, Path]]:
    small, big = tmp / "s2k.duckdb", tmp / "s44k.duckdb"
    if prebuilt is not None:  # s2k.duckdb and s44k.duckdb built before (same recipe)
        shutil.copy(prebuilt / "s2k.duckdb", small)
        shutil.copy(prebuilt / "s44k.duckdb", big)
    else:
        rows = egynews_days(14)
        _py(base_code, _BUILD, str(write_jsonl(rows[:2000], tmp / "first.jsonl")), str(small))
        _py(base_code, _BUILD, str(write_jsonl(rows, tmp / "days14.jsonl")), str(big))
    out = [("2k", small), ("44k", big)]
    for c in copies:
        db = tmp / f"x{c}.duckdb"
        total = _copies(big, db, c)
        out.append((f"{total // 1000}k (44k x {c})", db))
    return out


def _one_by_one(code_dir: Path, state: Path, src: Path, work: Path, profile: bool) -> dict:
    db = work / "run.duckdb"
    for p in work.glob("run.duckdb*"):
        p.unlink()
    shutil.copy(state, db)
    return _py(code_dir, _INGEST, str(src), str(db), "1" if profile else "0")


def measure(before: Path | None, copies: list[int], n_after: int, n_before: int,
            profile: bool, prebuilt: Path | None = None) -> dict:
    """Median and p99 ms per one-article ingest at each state size, for this checkout and
    (``before``) another one; with ``profile`` the per-statement medians of this checkout."""
    rows = [r for r in egynews_days(14) if len(r.get("body") or "") > 400]
    # a stored record's body without its first sentence, under a new id: a real article that is
    # a near-duplicate (not an exact repeat) of a stored one, so each call runs the whole path
    # (LSH lookup, verification, joining a stored group)
    ones = [dict(r, id=f"bench-one-{k}", body=r["body"].split(".", 1)[-1])
            for k, r in enumerate(rows[k * 997 % len(rows)] for k in range(1 + max(n_after, n_before)))]
    res: dict = {"rows": [], "sql": {}}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        work = tmp / "work"
        work.mkdir()
        for name, state in _states(tmp, before or ROOT, copies, prebuilt):
            line = [name]
            for label, code, n in (("after", ROOT, n_after), ("before", before, n_before)):
                if code is None:
                    continue
                src = write_jsonl(ones[: n + 1], tmp / "ones.jsonl")
                out = _one_by_one(code, state, src, work, profile and label == "after")
                ms = sorted(1000 * s for s in out["seconds"])
                p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
                cpu = statistics.median(1000 * s for s in out["cpu"])
                line += [round(statistics.median(ms), 1), round(p99, 1), round(cpu, 1), out["statements"]]
                if label == "after" and profile:
                    res["sql"][name] = out["sql_ms"]
            res["rows"].append(line)
            print(json.dumps(line), file=sys.stderr, flush=True)
    return res


def run(quick: bool = False, plots_dir: Path | None = None) -> dict:
    """Milliseconds to add one article at 2k and 44k stored articles (this checkout)."""
    res = measure(None, [] if quick else [5], 10 if quick else 40, 0, False)
    return {"title": "Adding one article", "tables": [table(
        "ms per one-article ingest (stories off, store held open)",
        ["stored", "median ms", "p99 ms", "median CPU ms", "SQL statements"], res["rows"])], "summary": {}, "notes": []}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="ms to add one article vs archive size")
    ap.add_argument("--before", type=Path, default=None, help="another checkout to measure beside this one")
    ap.add_argument("--copies", type=int, nargs="*", default=[5], help="synthetic archives: 44k x R")
    ap.add_argument("--n", type=int, default=40, help="timed articles per state (this checkout)")
    ap.add_argument("--n-before", type=int, default=10, help="timed articles per state (--before)")
    ap.add_argument("--profile", action="store_true", help="per-statement milliseconds (this checkout)")
    ap.add_argument("--states", type=Path, default=None,
                    help="folder with s2k.duckdb and s44k.duckdb already built (skips the builds)")
    a = ap.parse_args()
    print(json.dumps(measure(a.before, a.copies, a.n, a.n_before, a.profile, a.states), indent=1))

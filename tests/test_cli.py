"""The CLI end to end on real data (in process, Typer's runner), without the embedding model:
stories are covered in test_stories_store.py."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from clustering.cli import app

from .conftest import EGY_DAY, SEED_PAGE

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def egy_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("cli") / "news.duckdb"
    res = invoke("run", EGY_DAY, "--db", db, "--stories", "none", "--json", "-q")
    assert res.exit_code == 0, res.output
    return db, json.loads(res.output)


def test_run_summary_reports_skips_repeats_and_groups(egy_db):
    _, s = egy_db
    assert s["read"] == 3097 and s["new_articles"] == 3080
    assert s["skipped"] == {"empty text": 17}
    assert s["exact_repeats"] > 0 and s["groups"] > 0
    assert s["largest_groups"][0]["size"] >= s["largest_groups"][-1]["size"] > 1


def test_rerun_reports_everything_already_stored(egy_db):
    db, _ = egy_db
    res = invoke("run", EGY_DAY, "--db", db, "--stories", "none", "--json", "-q")
    s = json.loads(res.output)
    assert s["new_articles"] == 0 and s["already_stored"] == 3080


def test_groups_lists_largest_first(egy_db):
    db, _ = egy_db
    res = invoke("groups", "--db", db, "--json", "--limit", "5")
    rows = [json.loads(line) for line in res.output.splitlines()]
    sizes = [r["size"] for r in rows]
    assert sizes == sorted(sizes, reverse=True) and len(rows) == 5
    assert all(len(r["members"]) == r["size"] for r in rows)


def test_explain_gives_jaccard_shared_shingles_and_rule(egy_db):
    db, _ = egy_db
    row = json.loads(invoke("groups", "--db", db, "--json", "--limit", "1").output.splitlines()[0])
    a, b = row["members"][0]["id"], row["members"][1]["id"]
    ex = json.loads(invoke("explain", a, b, "--db", db, "--json").output)
    nd = ex["near_duplicate"]
    assert nd["same_group"] is True
    assert nd["exact_repeat"] or nd["jaccard"] >= nd["threshold"] or "transitive" in nd["verdict"]
    assert "story" not in ex  # stories were not clustered in this database


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_one_row_per_article(egy_db, tmp_path, fmt):
    db, s = egy_db
    out = tmp_path / f"x.{fmt}"
    res = invoke("export", "--db", db, "--format", fmt, "--out", out)
    assert res.exit_code == 0
    if fmt == "parquet":
        t = pq.read_table(out)
        assert t.num_rows == 3080
        assert t.column_names == ["id", "dup_group", "representative_id", "similarity", "story_id"]
    elif fmt == "jsonl":
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == 3080 and len({r["id"] for r in rows}) == 3080
        reps = {r["representative_id"] for r in rows}
        assert all(r["dup_group"] for r in rows) and len(reps) < 3080
    else:
        assert len(out.read_text(encoding="utf-8").splitlines()) == 3081


def test_dedup_feed_shows_each_item_once(tmp_path):
    out = tmp_path / "feed.jsonl"
    res = invoke("dedup", SEED_PAGE, "--out", out)
    assert res.exit_code == 0
    feed = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(feed) == 10  # 12 items, two pairs of repeats
    counts = sorted(r["duplicate_count"] for r in feed)
    assert counts == [0] * 8 + [1, 1]
    dup_ids = [i for r in feed for i in r["duplicate_ids"]]
    assert not set(dup_ids) & {r["id"] for r in feed}


def test_errors_are_one_line_with_nonzero_exit(tmp_path):
    res = invoke("run", tmp_path / "missing.jsonl", "--db", tmp_path / "x.duckdb", "-q")
    assert res.exit_code == 2 and "no such file" in res.output
    assert len(res.output.strip().splitlines()) == 1
    res = invoke("groups", "--db", tmp_path / "none.duckdb")
    assert res.exit_code == 2 and "no such database" in res.output
    res = invoke("run", SEED_PAGE, "--db", tmp_path / "x.duckdb", "--threshold", "1.5", "-q")
    assert res.exit_code == 2 and "--threshold" in res.output
    res = invoke("run", SEED_PAGE, "--db", tmp_path / "x.duckdb", "--map", "body", "-q")
    assert res.exit_code == 2 and "SOURCE=FIELD" in res.output


def test_evaluate_text_pairs_on_ans_arabic(tmp_path):
    from .conftest import shared

    src = shared("ans-arabic/data_stance_dev.csv")
    import csv

    with open(src, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:300]
    gold = tmp_path / "pairs.csv"
    with open(gold, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text_a", "text_b", "label"])
        for r in rows:
            w.writerow([r["s1"], r["s2"], int(r["stance"] == "agree")])
    res = invoke("evaluate", gold, "--json", "--stories", "none")  # no model: rule only
    assert res.exit_code == 0, res.output
    nd = json.loads(res.output)["near_duplicates"]
    assert nd["n_pairs"] == 300 and 0.5 < nd["roc_auc"] <= 1.0


def test_a_piped_run_reports_progress_lines(tmp_path):
    """Not a terminal: one plain progress line per stage (the runner's stderr is no tty)."""
    res = invoke("run", SEED_PAGE, "--db", tmp_path / "p.duckdb", "--stories", "none")
    assert res.exit_code == 0
    lines = [x for x in res.output.splitlines() if x.startswith("progress: ")]
    assert "progress: reading input" in lines
    assert any(x.startswith("progress: fingerprinting and near-duplicate search 0/12") for x in lines)
    quiet = invoke("run", SEED_PAGE, "--db", tmp_path / "q.duckdb", "--stories", "none", "-q")
    assert "progress:" not in quiet.output


def test_demo_runs_on_the_bundled_data(tmp_path, monkeypatch):
    """The README's first command: `demo` reads data/ and stores it (dedup only here; the
    stories part is covered by tests/test_stories_store.py)."""
    db = tmp_path / "demo.duckdb"
    res = invoke("demo", "--db", db, "--stories", "none", "-q")
    assert res.exit_code == 0, res.output
    assert "near-duplicate groups (2+)" in res.output and db.exists()

"""The ``news-cluster`` command line (Typer).

Every command prints errors as one line on stderr and exits with a non-zero code (2 for bad input
or an unusable database); ``--help`` works everywhere.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clustering.dedup.engine import DedupParams
from clustering.dedup.shingles import ShingleParams
from clustering.io.errors import InputError
from clustering.pipeline import Progress, RunSummary
from clustering.store import Store, StoreError
from clustering.stories.scoring import StoryParams

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Near-duplicate detection and story clustering for news, stored in DuckDB.")
console = Console()
err_console = Console(stderr=True)

DEFAULT_DB = Path("news.duckdb")
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


class CliError(Exception):
    """An error shown to the user as one line."""


def _fail(msg: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(fn):
    """Turn the errors users can cause into one clear line and an exit code."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InputError, StoreError, CliError) as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted; the database is unchanged by the unfinished run", 130)
        except BrokenPipeError:  # output piped into `head`: stop quietly
            sys.stderr.close()
            raise typer.Exit(0)
        except Exception as exc:  # an unexpected failure: still one line, with its type
            from clustering.embed import EmbeddingModelError

            if isinstance(exc, EmbeddingModelError):
                _fail(str(exc))
            if os.environ.get("NEWS_CLUSTER_DEBUG"):
                raise
            _fail(f"{type(exc).__name__}: {exc} (set NEWS_CLUSTER_DEBUG=1 for a traceback)", 1)
    return wrapper


class RichProgressReporter(Progress):
    """Stage reporter drawing a rich progress bar (only on a terminal)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: RichProgress | None = None
        self.task = None

    def __enter__(self) -> "RichProgressReporter":
        if self.enabled:
            self.bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                    TimeElapsedColumn(), console=err_console, transient=True)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def stage(self, name: str, total: int | None = None) -> None:
        if self.bar is not None:
            if self.task is not None:
                self.bar.update(self.task, visible=False)
            self.task = self.bar.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, n)


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """``["body=text", "timestamp=published"]`` -> ``{"body": "text", ...}``; raises CliError."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise CliError(f"--map expects SOURCE=FIELD, got {item!r}")
        src, dst = (s.strip() for s in item.split("=", 1))
        from clustering.records import ARTICLE_FIELDS

        if dst not in ARTICLE_FIELDS:
            raise CliError(f"--map {item!r}: {dst!r} is not one of {', '.join(ARTICLE_FIELDS)}")
        out[src] = dst
    return out


def dedup_params(threshold: float, char_threshold: float, num_perm: int, word_k: int,
                 char_k: int) -> DedupParams:
    """Build and check the near-duplicate settings from CLI options."""
    for name, t in (("--threshold", threshold), ("--char-threshold", char_threshold)):
        if not 0.0 < t < 1.0:
            raise CliError(f"{name} must be between 0 and 1, got {t}")
    if num_perm < 16 or word_k < 1 or char_k < 1:
        raise CliError("--num-perm must be >= 16 and shingle sizes >= 1")
    return DedupParams(threshold=threshold, char_threshold=char_threshold, num_perm=num_perm,
                       shingles=ShingleParams(word_k=word_k, char_k=char_k))


# Shared option declarations -------------------------------------------------------------------
DbOpt = typer.Option(DEFAULT_DB, "--db", help="DuckDB database file.")
MapOpt = typer.Option(None, "--map", help="Rename an input column: SOURCE=FIELD (repeatable), "
                      "e.g. --map body=text --map timestamp=published.")
ThrOpt = typer.Option(DedupParams.threshold, help="Jaccard threshold for word-shingled texts.")
CharThrOpt = typer.Option(DedupParams.char_threshold, help="Jaccard threshold for short texts "
                          "(character shingles).")
PermOpt = typer.Option(DedupParams.num_perm, help="MinHash permutations (signature length).")
WordKOpt = typer.Option(ShingleParams.word_k, help="Words per word shingle.")
CharKOpt = typer.Option(ShingleParams.char_k, help="Characters per character shingle.")


def print_summary(s: RunSummary) -> None:
    """Print a run summary as tables."""
    t = Table(title=f"run {s.run_id}", show_header=False)
    t.add_row("records read", str(s.read))
    t.add_row("skipped", str(sum(s.skipped.values())))
    for reason, n in s.skipped.items():
        ex = ", ".join(s.skip_examples.get(reason, []))
        t.add_row(f"  {reason}", f"{n}  ({ex})" if ex else str(n))
    t.add_row("already stored (unchanged)", str(s.already_stored))
    t.add_row("new articles", str(s.new_articles))
    t.add_row("exact repeats", str(s.exact_repeats))
    t.add_row("near-duplicates (verified)", f"{s.near_duplicates}  (LSH candidates {s.lsh_candidates}, "
              f"rejected by Jaccard {s.lsh_rejected})")
    t.add_row("near-duplicate groups (2+)", f"{s.groups}  holding {s.articles_in_groups} articles")
    for k, v in s.stories.items():
        t.add_row(f"stories: {k}", str(v))
    t.add_row("seconds", f"{s.seconds:.1f}")
    console.print(t)
    for note in s.notes:
        console.print(f"note: {note}", highlight=False)
    if s.largest_groups:
        g = Table(title="largest near-duplicate groups")
        for col in ("size", "group", "representative", "source", "title"):
            g.add_column(col)
        for row in s.largest_groups:
            g.add_row(str(row["size"]), row["group_id"], row["representative_id"],
                      row["source"] or "", (row["title"] or "")[:70])
        console.print(g)


@app.command()
@_guard
def run(inputs: list[Path] = typer.Argument(..., help="Article files (.jsonl/.csv/.tsv/.parquet, "
                                             "optionally .gz) or news pages (.txt/.html)."),
        db: Path = DbOpt, map_: Optional[list[str]] = MapOpt,
        threshold: float = ThrOpt, char_threshold: float = CharThrOpt, num_perm: int = PermOpt,
        word_k: int = WordKOpt, char_k: int = CharKOpt,
        stories: str = typer.Option("online", help="Story clustering: online, batch or none."),
        model: Optional[str] = typer.Option(None, help="sentence-transformers model name or folder "
                                            "(default: multilingual-e5-small, offline)."),
        story_threshold: float = typer.Option(StoryParams.threshold, help="Story similarity "
                                              "threshold (cosine units of the model)."),
        lead_tokens: int = typer.Option(96, help="Body tokens embedded after the title."),
        json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar.")) -> None:
    """Ingest articles: find exact repeats and near-duplicates, group stories, store all in DuckDB."""
    from clustering import pipeline

    params = dedup_params(threshold, char_threshold, num_perm, word_k, char_k)
    story_step, story_params = _story_step(stories, model, story_threshold, lead_tokens)
    with Store(db) as store, RichProgressReporter(not quiet and sys.stderr.isatty()) as prog:
        summary = pipeline.run(inputs, store, mapping=parse_mapping(map_), params=params,
                               story_step=story_step, story_params=story_params, progress=prog)
    if json_out:
        print(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(summary)


def _story_step(mode: str, model: str | None, threshold: float = StoryParams.threshold,
                lead_tokens: int = 96):
    """The story clustering hook for ``run`` (None for mode "none")."""
    if mode == "none":
        return None, {"mode": "none"}
    if mode not in ("online", "batch"):
        raise CliError(f"--stories must be online, batch or none, got {mode!r}")
    if lead_tokens < 0:
        raise CliError("--lead-tokens must be >= 0")
    from clustering.story_step import make_story_step

    try:
        params = StoryParams(threshold=threshold)
    except ValueError as exc:
        raise CliError(f"--story-threshold: {exc}") from None
    return make_story_step(mode=mode, model=model, params=params, lead_tokens=lead_tokens)


@app.command()
@_guard
def dedup(inputs: list[Path] = typer.Argument(..., help="Article files or news pages."),
          out: Path = typer.Option(..., "--out", help="Feed to write (JSON Lines)."),
          map_: Optional[list[str]] = MapOpt, threshold: float = ThrOpt,
          char_threshold: float = CharThrOpt, num_perm: int = PermOpt,
          word_k: int = WordKOpt, char_k: int = CharKOpt) -> None:
    """Write the feed with each item once: representatives with their duplicate count and ids."""
    from clustering import pipeline
    from clustering.feed import write_feed

    params = dedup_params(threshold, char_threshold, num_perm, word_k, char_k)
    with Store(":memory:") as store:
        summary = pipeline.run(inputs, store, mapping=parse_mapping(map_), params=params,
                               command="dedup")
        n = write_feed(store, out)
    err_console.print(f"{summary.read} records read, {sum(summary.skipped.values())} skipped, "
                      f"{n} items in the feed -> {out}", highlight=False)
    for reason, k in summary.skipped.items():
        err_console.print(f"  skipped {k}: {reason}", highlight=False)


@app.command()
@_guard
def groups(db: Path = DbOpt, limit: int = typer.Option(20, help="Groups to list."),
           min_size: int = typer.Option(2, help="Smallest group size listed."),
           json_out: bool = typer.Option(False, "--json", help="JSON Lines output.")) -> None:
    """List near-duplicate groups, largest first."""
    with Store(db, read_only=True) as store:
        rows = store.con.execute(
            "SELECT g.group_id, g.size, g.representative_id, a.title, a.source, a.published "
            "FROM dup_groups g JOIN articles a ON a.id = g.representative_id WHERE g.size >= ? "
            "ORDER BY g.size DESC, g.group_id LIMIT ?", [min_size, limit]).fetchall()
        members = {}
        for gid, *_ in rows:
            members[gid] = store.con.execute(
                "SELECT a.id, a.source, m.similarity, m.rule FROM dup_members m JOIN articles a "
                "ON a.id = m.article_id WHERE m.group_id = ? ORDER BY a.seq", [gid]).fetchall()
    if json_out:
        for gid, size, rep, title, source, published in rows:
            print(json.dumps({"group_id": gid, "size": size, "representative_id": rep,
                              "title": title, "source": source, "published": published,
                              "members": [{"id": m[0], "source": m[1], "similarity": m[2],
                                           "rule": m[3]} for m in members[gid]]},
                             ensure_ascii=False, default=str))
        return
    t = Table(title=f"near-duplicate groups in {db}")
    for col in ("size", "group", "representative title", "source", "members (similarity)"):
        t.add_column(col)
    for gid, size, rep, title, source, _ in rows:
        ms = ", ".join(f"{m[1] or '?'}" + (f" {m[2]:.2f}" if m[2] is not None else "")
                       for m in members[gid][:6])
        t.add_row(str(size), gid, (title or "")[:60], source or "", ms)
    console.print(t)


@app.command()
@_guard
def explain(id_a: str = typer.Argument(..., help="First article id."),
            id_b: str = typer.Argument(..., help="Second article id."), db: Path = DbOpt,
            json_out: bool = typer.Option(False, "--json")) -> None:
    """Explain why two articles are or are not near-duplicates (and in one story)."""
    from clustering.explain import explain_pair

    with Store(db, read_only=True) as store:
        ex = explain_pair(store, id_a, id_b)
    if json_out:
        print(json.dumps(ex, ensure_ascii=False, indent=2, default=str))
        return
    for key, value in ex.items():
        if isinstance(value, dict):
            console.print(f"[bold]{key}[/]")
            for k, v in value.items():
                console.print(f"  {k}: {v}", highlight=False)
        else:
            console.print(f"[bold]{key}[/]: {value}", highlight=False)


@app.command()
@_guard
def export(db: Path = DbOpt,
           format_: str = typer.Option("jsonl", "--format", help="jsonl, csv or parquet."),
           out: Optional[Path] = typer.Option(None, "--out", help="File to write (default: stdout "
                                              "for jsonl/csv, export.parquet for parquet).")) -> None:
    """One row per article: id, dup_group, representative_id, similarity, story_id."""
    from clustering.feed import export_rows

    if format_ not in ("jsonl", "csv", "parquet"):
        raise CliError(f"--format must be jsonl, csv or parquet, got {format_!r}")
    with Store(db, read_only=True) as store:
        n = export_rows(store, format_, out)
    if out is not None or format_ == "parquet":
        err_console.print(f"{n} rows -> {out or 'export.parquet'}", highlight=False)


@app.command()
@_guard
def demo(db: Path = typer.Option(Path("news-demo.duckdb"), "--db", help="DuckDB file to create."),
         stories: str = typer.Option("online", help="Story clustering: online, batch or none."),
         quiet: bool = typer.Option(False, "--quiet", "-q")) -> None:
    """Run on the bundled sample data (data/): the seed page and a slice of EgyNews."""
    inputs = sorted(p for p in DATA_DIR.rglob("*") if p.is_file() and p.name != "SOURCE.md"
                    and not p.name.endswith(".md"))
    if not inputs:
        raise CliError(f"no bundled data found in {DATA_DIR}")
    console.print(f"demo: {len(inputs)} input files from {DATA_DIR} -> {db}", highlight=False)
    run(inputs=inputs, db=db, map_=None, threshold=DedupParams.threshold,
        char_threshold=DedupParams.char_threshold, num_perm=DedupParams.num_perm,
        word_k=ShingleParams.word_k, char_k=ShingleParams.char_k, stories=stories, model=None,
        story_threshold=StoryParams.threshold, lead_tokens=96, json_out=False, quiet=quiet)
    console.print(f"next: news-cluster groups --db {db}   |   news-cluster stories --db {db}",
                  highlight=False)



def _parse_time(value: str | None, opt: str):
    """An ISO date/time option as UTC; a bare date given to --until means the end of that day."""
    if value is None:
        return None
    from datetime import timedelta

    from clustering.io.readers import parse_published

    try:
        t = parse_published(value)
    except ValueError:
        raise CliError(f"{opt}: not an ISO 8601 date or time: {value!r}") from None
    if opt == "--until" and t is not None and len(value.strip()) == 10:
        t += timedelta(days=1, microseconds=-1)
    return t


@app.command("stories")
@_guard
def stories_cmd(db: Path = DbOpt,
                since: Optional[str] = typer.Option(None, help="Only stories seen on/after this "
                                                    "ISO date/time."),
                until: Optional[str] = typer.Option(None, help="Only stories seen on/before this."),
                source: Optional[str] = typer.Option(None, help="Only stories with an article "
                                                     "from this source."),
                limit: int = typer.Option(30, help="Stories to list."),
                min_size: int = typer.Option(2, help="Smallest story size listed."),
                json_out: bool = typer.Option(False, "--json", help="JSON Lines output.")) -> None:
    """List stories with size, time span, label and sources, largest first."""
    from clustering.timeline import list_stories

    with Store(db, read_only=True) as store:
        rows = list_stories(store, since=_parse_time(since, "--since"),
                            until=_parse_time(until, "--until"), source=source, limit=limit,
                            min_size=min_size)
    if json_out:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False, default=str))
        return
    t = Table(title=f"stories in {db}")
    for col in ("story", "size", "first seen", "last seen", "label", "headline", "sources"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["story_id"], str(r["size"]), str(r["first_seen"] or "")[:16],
                  str(r["last_seen"] or "")[:16], ", ".join(r["label_terms"][:4]),
                  (r["headline"] or "")[:50], ", ".join(f"{k} {v}" for k, v in list(r["sources"].items())[:3]))
    console.print(t)


@app.command()
@_guard
def timeline(story_id: str = typer.Argument(..., help="Story id (see `stories`)."), db: Path = DbOpt,
             format_: str = typer.Option("text", "--format", help="text, json or html."),
             out: Optional[Path] = typer.Option(None, "--out", help="Write to this file.")) -> None:
    """A story's articles in time order with sources, near-duplicate counts and its events."""
    from clustering.timeline import render_html, render_json, render_text, story_timeline

    renderers = {"text": render_text, "json": render_json, "html": render_html}
    if format_ not in renderers:
        raise CliError(f"--format must be text, json or html, got {format_!r}")
    with Store(db, read_only=True) as store:
        t = story_timeline(store, story_id)
    page = renderers[format_](t)
    if out is None:
        print(page)
    else:
        out.write_text(page, encoding="utf-8")
        err_console.print(f"timeline of {story_id} -> {out}", highlight=False)



@app.command()
@_guard
def evaluate(gold: Path = typer.Argument(..., help="Gold file (.jsonl/.csv/.tsv, optionally .gz): "
                                          "id + cluster label per article, or pairs "
                                          "(id_a, id_b | text_a, text_b) with label or score."),
             db: Optional[Path] = typer.Option(None, "--db", help="Database made by `run`."),
             input_: Optional[list[Path]] = typer.Option(None, "--input", help="Run the engine on "
                                                        "these files (in memory) and score that."),
             map_: Optional[list[str]] = MapOpt,
             id_column: str = typer.Option("id", help="Id column of the gold file."),
             gold_column: str = typer.Option("cluster", help="Gold cluster column."),
             label_column: Optional[str] = typer.Option(None, help="Pair files: label/score column."),
             positive_at: Optional[float] = typer.Option(None, help="Pair files with graded scores: "
                                                         "gold positive when score >= this."),
             stories: str = typer.Option("batch", help="With --input: story mode (online, batch, "
                                         "none)."),
             json_out: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """Score near-duplicate groups and stories against labelled data (B-cubed, pairwise, ARI, AMI;
    pairs: P/R/F1, ROC AUC, Spearman)."""
    from clustering import pipeline
    from clustering.evaluate.runner import (evaluate_clusters, evaluate_pairs, format_report,
                                            is_pair_file)

    if db is not None and input_:
        raise CliError("give either --db or --input, not both")
    pairs = is_pair_file(gold)
    if db is None and not input_ and not pairs:
        raise CliError("cluster labels need --db or --input")
    if db is not None:
        store = Store(db, read_only=True)
    else:
        store = Store(":memory:") if input_ else None
        if input_:
            step, sp = _story_step(stories, None)
            pipeline.run(input_, store, mapping=parse_mapping(map_), story_step=step,
                         story_params=sp, command="evaluate")
    try:
        if pairs:
            results = evaluate_pairs(store, gold, positive_at=positive_at, label_column=label_column)
        else:
            results = evaluate_clusters(store, gold, id_column=id_column, gold_column=gold_column)
    finally:
        if store is not None:
            store.close()
    if json_out:
        print(json.dumps({k: v.to_dict() for k, v in results.items()}, ensure_ascii=False,
                         indent=2, default=str))
    else:
        print(format_report(results))



@app.command()
@_guard
def recluster(db: Path = DbOpt,
              since: Optional[str] = typer.Option(None, help="Window start (ISO date/time)."),
              until: Optional[str] = typer.Option(None, help="Window end (ISO date/time)."),
              model: Optional[str] = typer.Option(None, help="The model the stories were built "
                                                  "with (default: multilingual-e5-small)."),
              story_threshold: float = typer.Option(StoryParams.threshold,
                                                    help="Story similarity threshold.")) -> None:
    """Batch re-cluster the stories of a time window from scratch; ids stay stable, moves,
    merges and splits are recorded."""
    from clustering import pipeline

    step, sp = _story_step("batch", model, story_threshold)
    with Store(db) as store:
        if not store.scalar("SELECT count(*) FROM embeddings"):
            raise CliError(f"{db}: no embedded articles; run `news-cluster run` with stories first")
        summary = pipeline.recluster(store, step, since=_parse_time(since, "--since"),
                                     until=_parse_time(until, "--until"), story_params=sp)
    for k, v in summary.items():
        console.print(f"{k}: {v}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

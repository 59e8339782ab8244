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
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from clustering.config import STORY_MODES, Config
from clustering.io.errors import InputError
from clustering.pipeline import NewsClusterer, Progress, RunSummary
from clustering.store import EXPORT_FORMATS, StoreError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Near-duplicate detection and story clustering for news, stored in DuckDB.")
console = Console()
err_console = Console(stderr=True)

DEFAULT_DB = Path("news.duckdb")
#: Every option default comes from here (one place: :mod:`clustering.config`).
DEFAULTS = Config()
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


class CliError(Exception):
    """An error shown to the user as one line."""


def _fail(msg: str, code: int = 2) -> None:
    err_console.print(Text.assemble(("error:", "bold red"), " ", msg), highlight=False, soft_wrap=True)
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
        except ValueError as exc:  # a setting out of range, an empty window
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted; the database is unchanged by the unfinished run", 130)
        except BrokenPipeError:  # output piped into `head`: stop quietly
            sys.stderr.close()
            raise typer.Exit(0) from None
        except Exception as exc:  # an unexpected failure: still one line, with its type
            from clustering.embed import EmbeddingModelError

            if isinstance(exc, EmbeddingModelError):
                _fail(str(exc))
            if os.environ.get("NEWS_CLUSTER_DEBUG"):
                raise
            _fail(f"{type(exc).__name__}: {exc} (set NEWS_CLUSTER_DEBUG=1 for a traceback)", 1)
    return wrapper


class RichProgressReporter(Progress):
    """Stage reporter: a rich progress bar with time left on a terminal; elsewhere (output piped
    or logged) one plain line on stderr per stage and then every ``every`` seconds, so a long
    run never looks hung; nothing at all when ``enabled`` is False (``--quiet``)."""

    def __init__(self, enabled: bool, *, every: float = 10.0):
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.every = every
        self.bar: RichProgress | None = None
        self.task = None
        self._name, self._total, self._done = "", None, 0
        self._t0 = self._last = 0.0

    def __enter__(self) -> RichProgressReporter:
        if self.tty:
            self.bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                    TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                    console=err_console, transient=True)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def _line(self) -> None:
        import time

        now = time.monotonic()
        self._last = now
        spent = now - self._t0
        msg = f"progress: {self._name}"
        if self._total:
            msg += f" {self._done:,}/{self._total:,} ({100 * self._done / self._total:.0f}%)"
            if self._done:
                msg += f", {spent:.0f} s, about {spent * (self._total - self._done) / self._done:.0f} s left"
        err_console.print(msg, markup=False, highlight=False, soft_wrap=True)

    def stage(self, name: str, total: int | None = None) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            if self.task is not None:
                self.bar.update(self.task, visible=False)
            self.task = self.bar.add_task(name, total=total)
            return
        import time

        self._name, self._total, self._done = name, total, 0
        self._t0 = time.monotonic()
        self._line()

    def advance(self, n: int = 1) -> None:
        if not self.enabled:
            return
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, n)
            return
        import time

        self._done += n
        if time.monotonic() - self._last >= self.every:
            self._line()


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


def make_config(*, threshold: float, char_threshold: float, num_perm: int, word_k: int,
                char_k: int, stories: str = DEFAULTS.stories.mode,
                model: str | None = DEFAULTS.embed.model,
                story_threshold: float = DEFAULTS.stories.threshold,
                lead_tokens: int = DEFAULTS.embed.lead_tokens,
                scorer: str = DEFAULTS.stories.scorer,
                scorer_weights: Path | None = DEFAULTS.stories.scorer_weights) -> Config:
    """The :class:`~clustering.config.Config` of a command's options; raises CliError naming
    the option when a value is out of range."""
    if stories not in STORY_MODES:
        raise CliError(f"--stories must be online, batch or none, got {stories!r}")
    weights = None if scorer_weights is None else str(scorer_weights)
    if scorer_weights is not None:
        if not Path(scorer_weights).is_file():
            raise CliError(f"--scorer-weights {scorer_weights}: no such file")
        from clustering.stories import StoryScorer

        try:
            StoryScorer.load(scorer_weights)
        except (ValueError, KeyError, OSError) as exc:
            raise CliError(f"--scorer-weights {scorer_weights}: {exc}") from None
    for opt, section, changes in (
            ("--threshold", "dedup", {"threshold": threshold}),
            ("--char-threshold", "dedup", {"char_threshold": char_threshold}),
            ("--num-perm", "dedup", {"num_perm": num_perm}),
            ("--word-k/--char-k", "dedup", {"shingles": {"word_k": word_k, "char_k": char_k}}),
            ("--story-threshold", "stories", {"threshold": story_threshold, "mode": stories}),
            ("--scorer/--scorer-weights", "stories", {"scorer": scorer,
                                                      "scorer_weights": weights}),
            ("--lead-tokens", "embed", {"lead_tokens": lead_tokens, "model": model})):
        try:
            DEFAULTS.replace(**{section: changes})
        except ValueError as exc:
            raise CliError(f"{opt}: {exc}") from None
    return DEFAULTS.replace(
        dedup={"threshold": threshold, "char_threshold": char_threshold, "num_perm": num_perm,
               "shingles": {"word_k": word_k, "char_k": char_k}},
        stories={"mode": stories, "threshold": story_threshold, "scorer": scorer,
                 "scorer_weights": weights},
        embed={"model": model, "lead_tokens": lead_tokens})


# Shared option declarations -------------------------------------------------------------------
DbOpt = typer.Option(DEFAULT_DB, "--db", help="DuckDB database file.")
MapOpt = typer.Option(None, "--map", help="Rename an input column: SOURCE=FIELD (repeatable), "
                      "e.g. --map body=text --map timestamp=published.")
ThrOpt = typer.Option(DEFAULTS.dedup.threshold, help="Jaccard threshold for word-shingled texts.")
CharThrOpt = typer.Option(DEFAULTS.dedup.char_threshold, help="Jaccard threshold for short texts "
                          "(character shingles).")
PermOpt = typer.Option(DEFAULTS.dedup.num_perm, help="MinHash permutations (signature length).")
WordKOpt = typer.Option(DEFAULTS.dedup.shingles.word_k, help="Words per word shingle.")
CharKOpt = typer.Option(DEFAULTS.dedup.shingles.char_k, help="Characters per character shingle.")
StoriesOpt = typer.Option(DEFAULTS.stories.mode, help="Story clustering: online, batch or none.")
ModelOpt = typer.Option(DEFAULTS.embed.model, help="sentence-transformers model name or folder "
                        "(default: multilingual-e5-small, offline).")
StoryThrOpt = typer.Option(DEFAULTS.stories.threshold, help="Story similarity threshold (cosine "
                           "units of the model; --scorer cosine only).")
ScorerOpt = typer.Option(DEFAULTS.stories.scorer, help="Story scorer: hybrid (learned P(same "
                         "story), threshold 0.5) or cosine (decayed embedding cosine, "
                         "--story-threshold).")
WeightsOpt = typer.Option(None, "--scorer-weights", help="Scorer weights JSON (from `train`; "
                          "default: the shipped scorer_v1.json).")
LeadOpt = typer.Option(DEFAULTS.embed.lead_tokens, help="Body tokens embedded after the title.")


def _say(msg: str) -> None:
    """Print a line that may hold input text: never read as markup."""
    console.print(msg, markup=False, highlight=False)


def _row(table: Table, *cells: Any) -> None:
    """Add a row whose cells are data (input text is never read as rich markup)."""
    table.add_row(*(Text("" if c is None else str(c)) for c in cells))


def print_summary(s: RunSummary) -> None:
    """Print a run summary as tables."""
    t = Table(title=f"run {s.run_id}", show_header=False)
    _row(t, "records read", s.read)
    _row(t, "skipped", sum(s.skipped.values()))
    for reason, n in s.skipped.items():
        ex = ", ".join(s.skip_examples.get(reason, []))
        _row(t, f"  {reason}", f"{n}  ({ex})" if ex else n)
    _row(t, "already stored (unchanged)", s.already_stored)
    _row(t, "new articles", s.new_articles)
    if s.updated_text or s.updated_metadata:
        _row(t, "updated articles (new version)", f"{s.updated_text} text, {s.updated_metadata} "
             f"metadata only; {s.matched_by_url} matched by canonical URL under a new id")
    _row(t, "exact repeats", s.exact_repeats)
    _row(t, "near-duplicates (verified)", f"{s.near_duplicates}  (LSH candidates "
         f"{s.lsh_candidates}, rejected by Jaccard {s.lsh_rejected})")
    _row(t, "near-duplicate groups (2+)", f"{s.groups}  holding {s.articles_in_groups} articles")
    for k, v in s.stories.items():
        if k != "changes":
            _row(t, f"stories: {k}", v)
    _row(t, "seconds", f"{s.seconds:.1f}")
    console.print(t)
    if s.stories.get("changes"):
        print_story_changes(s.stories["changes"])
    for note in s.notes:
        _say(f"note: {note}")
    if s.largest_groups:
        g = Table(title="largest near-duplicate groups")
        for col in ("size", "group", "representative", "source", "title"):
            g.add_column(col)
        for row in s.largest_groups:
            _row(g, row["size"], row["group_id"], row["representative_id"], row["source"] or "",
                 (row["title"] or "")[:70])
        console.print(g)


@app.command()
@_guard
def run(inputs: list[Path] = typer.Argument(..., help="Article files (.jsonl/.csv/.tsv/.parquet, "
                                             "optionally .gz) or news pages (.txt/.html)."),
        db: Path = DbOpt, map_: Optional[list[str]] = MapOpt,
        threshold: float = ThrOpt, char_threshold: float = CharThrOpt, num_perm: int = PermOpt,
        word_k: int = WordKOpt, char_k: int = CharKOpt, stories: str = StoriesOpt,
        model: Optional[str] = ModelOpt, story_threshold: float = StoryThrOpt,
        lead_tokens: int = LeadOpt, scorer: str = ScorerOpt,
        scorer_weights: Optional[Path] = WeightsOpt,
        json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        engine: str = typer.Option("local", "--engine", help="local: this process; ray: a Ray Data "
                                   "pipeline (pip install -e '.[ray]'), same results and store."),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help="With --engine ray: join "
                                                  "this Ray cluster (default: start a local one).")
        ) -> None:
    """Ingest articles: find exact repeats and near-duplicates, group stories, store all in DuckDB."""
    if engine not in ("local", "ray"):
        raise CliError(f"--engine must be local or ray, got {engine!r}")
    config = make_config(threshold=threshold, char_threshold=char_threshold, num_perm=num_perm,
                         word_k=word_k, char_k=char_k, stories=stories, model=model,
                         story_threshold=story_threshold, lead_tokens=lead_tokens,
                         scorer=scorer, scorer_weights=scorer_weights)
    mapping = parse_mapping(map_)
    with NewsClusterer(db, config) as nc, \
            RichProgressReporter(not quiet) as prog:
        if engine == "ray":
            try:
                import ray  # noqa: F401
            except ImportError:
                raise CliError("--engine ray needs Ray: pip install -e '.[ray]'") from None
            from clustering.distributed import RayOptions, ingest_ray

            summary = ingest_ray(nc, inputs, mapping=mapping, options=RayOptions(ray_address), progress=prog)
        else:
            summary = nc.ingest(inputs, mapping=mapping, progress=prog)
    if json_out:
        print(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(summary)


@app.command()
@_guard
def dedup(inputs: list[Path] = typer.Argument(..., help="Article files or news pages."),
          out: Path = typer.Option(..., "--out", help="Feed to write (JSON Lines)."),
          map_: Optional[list[str]] = MapOpt, threshold: float = ThrOpt,
          char_threshold: float = CharThrOpt, num_perm: int = PermOpt,
          word_k: int = WordKOpt, char_k: int = CharKOpt) -> None:
    """Write the feed with each item once: representatives with their duplicate count and ids."""
    config = make_config(threshold=threshold, char_threshold=char_threshold, num_perm=num_perm,
                         word_k=word_k, char_k=char_k, stories="none")
    mapping = parse_mapping(map_)
    with NewsClusterer(":memory:", config) as nc:
        summary = nc.ingest(inputs, mapping=mapping, command="dedup")
        n = nc.feed(out)
    err_console.print(f"{summary.read} records read, {sum(summary.skipped.values())} skipped, "
                      f"{n} items in the feed -> {out}", markup=False, highlight=False)
    for reason, k in summary.skipped.items():
        err_console.print(f"  skipped {k}: {reason}", markup=False, highlight=False)


@app.command()
@_guard
def groups(db: Path = DbOpt, limit: int = typer.Option(20, help="Groups to list."),
           min_size: int = typer.Option(2, help="Smallest group size listed."),
           json_out: bool = typer.Option(False, "--json", help="JSON Lines output.")) -> None:
    """List near-duplicate groups, largest first, with their members."""
    with NewsClusterer(db, read_only=True) as nc:
        rows = nc.groups(min_size=min_size, limit=limit)
    if json_out:
        for g in rows:
            print(json.dumps(g, ensure_ascii=False, default=str))
        return
    t = Table(title=f"near-duplicate groups in {db}", show_lines=True)
    for col in ("size", "group", "representative", "members: source, similarity (rule), title"):
        t.add_column(col)
    for g in rows:
        lines = [f"{m['source'] or '?'}  " + (f"{m['similarity']:.2f} ({m['rule']})  "
                                              if m["similarity"] is not None else "(first)  ")
                 + (m["title"] or "")[:60] for m in g["members"][:8]]
        if len(g["members"]) > 8:
            lines.append(f"... {len(g['members']) - 8} more")
        _row(t, g["size"], g["group_id"], f"{g['source'] or ''}: {(g['title'] or '')[:60]}",
             "\n".join(lines))
    console.print(t)


@app.command()
@_guard
def explain(id_a: str = typer.Argument(..., help="First article id."),
            id_b: str = typer.Argument(..., help="Second article id."), db: Path = DbOpt,
            json_out: bool = typer.Option(False, "--json")) -> None:
    """Explain why two articles are or are not near-duplicates (and in one story)."""
    with NewsClusterer(db, read_only=True) as nc:
        ex = nc.explain(id_a, id_b)
    if json_out:
        print(json.dumps(ex, ensure_ascii=False, indent=2, default=str))
        return
    for key, value in ex.items():
        if isinstance(value, dict):
            console.print(Text(key, style="bold"))
            for k, v in value.items():
                _say(f"  {k}: {v}")
        else:
            console.print(Text.assemble((key, "bold"), f": {value}"))


@app.command()
@_guard
def export(db: Path = DbOpt,
           format_: str = typer.Option("jsonl", "--format", help="jsonl, csv or parquet."),
           out: Optional[Path] = typer.Option(None, "--out", help="File to write (default: stdout "
                                              "for jsonl/csv, export.parquet for parquet)."),
           full: bool = typer.Option(False, "--full", help="Also title, source, url, published, "
                                     "lang, rule, joined_via, story label and terms.")) -> None:
    """One row per article: id, dup_group, representative_id, similarity, story_id (--full: the
    whole record)."""
    if format_ not in EXPORT_FORMATS:
        raise CliError(f"--format must be jsonl, csv or parquet, got {format_!r}")
    with NewsClusterer(db, read_only=True) as nc:
        n = nc.export(format_, out, full=full)
    if out is not None or format_ == "parquet":
        err_console.print(f"{n} rows -> {out or 'export.parquet'}", markup=False, highlight=False)


@app.command()
@_guard
def demo(db: Path = typer.Option(Path("news-demo.duckdb"), "--db", help="DuckDB file to create."),
         stories: str = StoriesOpt, quiet: bool = typer.Option(False, "--quiet", "-q")) -> None:
    """Run on the bundled sample data (data/): the seed page and a slice of EgyNews."""
    inputs = sorted(p for p in DATA_DIR.rglob("*") if p.is_file() and not p.name.endswith(".md"))
    if not inputs:
        raise CliError(f"no bundled data found in {DATA_DIR}")
    _say(f"demo: {len(inputs)} input files from {DATA_DIR} -> {db}")
    d = DEFAULTS
    run(inputs=inputs, db=db, map_=None, threshold=d.dedup.threshold,
        char_threshold=d.dedup.char_threshold, num_perm=d.dedup.num_perm,
        word_k=d.dedup.shingles.word_k, char_k=d.dedup.shingles.char_k, stories=stories,
        model=d.embed.model, story_threshold=d.stories.threshold,
        lead_tokens=d.embed.lead_tokens, scorer=d.stories.scorer, scorer_weights=None,
        json_out=False, quiet=quiet, engine="local", ray_address=None)
    _say(f"next: news-cluster groups --db {db}   |   news-cluster stories --db {db}")


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


def _window(since: str | None, until: str | None):
    lo, hi = _parse_time(since, "--since"), _parse_time(until, "--until")
    if lo is not None and hi is not None and lo > hi:
        raise CliError(f"--since {since} is after --until {until}: the window is empty")
    return lo, hi


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
    lo, hi = _window(since, until)
    with NewsClusterer(db, read_only=True) as nc:
        rows = nc.stories(since=lo, until=hi, source=source, limit=limit, min_size=min_size)
    if json_out:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False, default=str))
        return
    t = Table(title=f"stories in {db}")
    for col in ("story", "size", "first seen", "last seen", "label", "headline", "sources"):
        t.add_column(col)
    for r in rows:
        _row(t, r["story_id"], r["size"], str(r["first_seen"] or "")[:16],
             str(r["last_seen"] or "")[:16], ", ".join(r["label_terms"][:4]),
             (r["headline"] or "")[:50],
             ", ".join(f"{k} {v}" for k, v in list(r["sources"].items())[:3]))
    console.print(t)


@app.command()
@_guard
def timeline(story_id: str = typer.Argument(..., help="Story id (see `stories`)."), db: Path = DbOpt,
             format_: str = typer.Option("text", "--format", help="text, json or html."),
             out: Optional[Path] = typer.Option(None, "--out", help="Write to this file.")) -> None:
    """A story's articles in time order with sources, near-duplicate counts and its events."""
    from clustering.timeline import render_html, render_json, render_text

    renderers = {"text": render_text, "json": render_json, "html": render_html}
    if format_ not in renderers:
        raise CliError(f"--format must be text, json or html, got {format_!r}")
    with NewsClusterer(db, read_only=True) as nc:
        t = nc.timeline(story_id)
    page = renderers[format_](t)
    if out is None:
        print(page)
    else:
        out.write_text(page, encoding="utf-8")
        err_console.print(f"timeline of {story_id} -> {out}", markup=False, highlight=False)


@app.command()
@_guard
def evaluate(gold: Path = typer.Argument(..., help="Gold file (.jsonl/.csv/.tsv, optionally .gz): "
                                          "id + cluster label per article, or pairs "
                                          "(id_a, id_b | text_a, text_b | headline1, headline2 | "
                                          "s1, s2) with a label or score."),
             db: Optional[Path] = typer.Option(None, "--db", help="Database made by `run`."),
             input_: Optional[list[Path]] = typer.Option(None, "--input", help="Run the engine on "
                                                        "these files (in memory) and score that."),
             map_: Optional[list[str]] = MapOpt,
             id_column: Optional[str] = typer.Option(None, help="Id column of the gold file "
                                                     "(default: as the input reader, id or "
                                                     "doc_id or --map ...=id)."),
             gold_column: str = typer.Option("cluster", help="Gold cluster column."),
             label_column: Optional[str] = typer.Option(None, help="Pair files: label/score column "
                                                        "(default: label, score, score_0_5, "
                                                        "stance)."),
             positive_at: Optional[float] = typer.Option(None, help="Pair files with graded scores: "
                                                         "gold positive when score >= this."),
             positive_label: Optional[list[str]] = typer.Option(
                 None, help="Pair files with text labels: the positive label(s) (default: "
                            "agree / duplicate / yes / true / 1 when the file has one of them)."),
             stories: str = typer.Option("batch", help="With --input: story mode (online, batch, "
                                         "none). Pair files: none skips the story scorer."),
             json_out: bool = typer.Option(False, "--json", help="JSON output.")) -> None:
    """Score near-duplicate groups and stories against labelled data (B-cubed, pairwise, ARI, AMI;
    pairs: the near-duplicate rule and P(same story), P/R/F1, ROC AUC, Spearman)."""
    from clustering.evaluate.gold import check_gold_ids, read_cluster_gold, read_pair_gold
    from clustering.evaluate.runner import evaluate_clusters, evaluate_pairs, format_report, is_pair_file
    from clustering.io.readers import read_articles

    if db is not None and input_:
        raise CliError("give either --db or --input, not both")
    if stories not in STORY_MODES:
        raise CliError(f"--stories must be online, batch or none, got {stories!r}")
    mapping = parse_mapping(map_)
    pairs = is_pair_file(gold)
    if db is None and not input_ and not pairs:
        raise CliError("cluster labels need --db or --input")
    # Read and check the gold file before the long work (embedding, clustering).
    if pairs:
        gold_rows = read_pair_gold(gold, label_column=label_column, positive_at=positive_at,
                                   positive_label=positive_label)
    else:
        gold_rows = read_cluster_gold(gold, id_column=id_column, gold_column=gold_column,
                                      mapping=mapping)
    nc = None
    if db is not None:
        nc = NewsClusterer(db, read_only=True)
    elif input_:
        read = read_articles(input_, mapping=mapping)
        if not pairs:
            check_gold_ids(gold_rows, (x.id for x in read.articles),
                           ", ".join(map(str, input_)))
        nc = NewsClusterer(":memory:", DEFAULTS.replace(stories={"mode": stories}))
        with RichProgressReporter(True) as prog:
            nc.ingest(read.articles, command="evaluate", progress=prog)
    try:
        store = nc.store if nc is not None else None
        if pairs:
            ev = evaluate_pairs(store, gold_rows, stories=stories != "none")
        else:
            ev = evaluate_clusters(store, gold_rows)
    finally:
        if nc is not None:
            nc.close()
    ev.about = {"gold": str(gold), "engine_on": str(db) if db is not None else
                (", ".join(map(str, input_)) + " (in memory)" if input_ else None), **ev.about}
    if json_out:
        print(json.dumps(ev.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print(format_report(ev))


@app.command()
@_guard
def recluster(db: Path = DbOpt,
              since: Optional[str] = typer.Option(None, help="Window start (ISO date/time)."),
              until: Optional[str] = typer.Option(None, help="Window end (ISO date/time)."),
              model: Optional[str] = typer.Option(DEFAULTS.embed.model, help="The model the "
                                                  "stories were built with (default: "
                                                  "multilingual-e5-small)."),
              story_threshold: float = StoryThrOpt, scorer: str = ScorerOpt,
              scorer_weights: Optional[Path] = WeightsOpt) -> None:
    """Batch re-cluster the stories of a time window from scratch; ids stay stable, moves,
    merges and splits are recorded."""
    lo, hi = _window(since, until)
    d = DEFAULTS
    config = make_config(threshold=d.dedup.threshold, char_threshold=d.dedup.char_threshold,
                         num_perm=d.dedup.num_perm, word_k=d.dedup.shingles.word_k,
                         char_k=d.dedup.shingles.char_k, stories="batch", model=model,
                         story_threshold=story_threshold, scorer=scorer,
                         scorer_weights=scorer_weights)
    with NewsClusterer(db, config) as nc:
        summary = nc.recluster(since=lo, until=hi)
    changes = summary.pop("changes", None)
    for k, v in summary.items():
        _say(f"{k}: {v}")
    print_story_changes(changes)


def print_story_changes(changes: dict[str, Any] | None, top: int = 20) -> None:
    """What a batch re-cluster changed: moves, merges, splits and story sizes before -> after."""
    if not changes:
        _say("no article changed story")
        return
    _say(f"articles moved: {changes['articles moved']} (in {changes['groups moved']} "
         "near-duplicate groups)")
    for what in ("merged", "split"):
        _say(f"stories {what}: {len(changes[what])}" + (f"  ({', '.join(changes[what][:top])})"
                                                       if changes[what] else ""))
    t = Table(title=f"stories whose size changed ({len(changes['sizes'])}; largest change first)")
    for col in ("story", "articles before", "after"):
        t.add_column(col)
    for row in changes["sizes"][:top]:
        _row(t, row["story_id"], row["before"], row["after"])
    console.print(t)


@app.command()
@_guard
def serve(db: Path = DbOpt,
          host: str = typer.Option("127.0.0.1", help="Address to bind (default loopback only)."),
          port: int = typer.Option(8000, help="TCP port."),
          token: Optional[str] = typer.Option(None, envvar="NEWS_CLUSTER_TOKEN", show_envvar=True,
                                              help="Writes need 'Authorization: Bearer TOKEN'."),
          stories: str = StoriesOpt,
          max_body_bytes: Optional[int] = typer.Option(None, help="Larger request bodies get 413 "
                                                       "(default 1 MiB)."),
          log_level: str = typer.Option("warning", help="uvicorn log level.")) -> None:
    """Run the feed service (HTTP API and story browser) over one database, as its single writer."""
    import uvicorn

    from clustering.service import MAX_BODY_BYTES, create_app
    from clustering.store import Store

    d = DEFAULTS
    config = make_config(threshold=d.dedup.threshold, char_threshold=d.dedup.char_threshold,
                         num_perm=d.dedup.num_perm, word_k=d.dedup.shingles.word_k,
                         char_k=d.dedup.shingles.char_k, stories=stories)
    Store(db).close()  # a locked or unusable file: one clear line now, not a server traceback
    uvicorn.run(create_app(db, token=token or "", config=config,
                           max_body_bytes=max_body_bytes or MAX_BODY_BYTES),
                host=host, port=port, log_level=log_level)


@app.command()
@_guard
def train(gold: Path = typer.Argument(..., help="Gold file (.jsonl/.csv/.tsv, optionally .gz): "
                                       "id + story label per article (as `evaluate`)."),
          input_: list[Path] = typer.Option(..., "--input", help="The labelled articles' files."),
          out: Path = typer.Option(Path("scorer.json"), "--out", help="Weights file to write."),
          map_: Optional[list[str]] = MapOpt,
          id_column: str = typer.Option("id", help="Id column of the gold file (doc_id is "
                                        "used when there is no id column)."),
          gold_column: str = typer.Option("cluster", help="Gold story column."),
          group_column: Optional[str] = typer.Option(None, help="Optional group column (e.g. "
                                                     "topic): hard negatives inside groups."),
          model: Optional[str] = ModelOpt, lead_tokens: int = LeadOpt,
          c: float = typer.Option(1.0, "--C", help="Inverse L2 penalty of the logistic fit.")
          ) -> None:
    """Refit the story scorer on your own labels; use it with `run --scorer-weights FILE`."""
    from clustering.evaluate.runner import read_table
    from clustering.io.readers import read_articles
    from clustering.train import train_scorer

    rows = read_table(gold)
    if rows and id_column not in rows[0] and id_column == "id" and "doc_id" in rows[0]:
        id_column = "doc_id"
    for col in (id_column, gold_column) + ((group_column,) if group_column else ()):
        if rows and col not in rows[0]:
            raise CliError(f"{gold}: no column {col!r} (columns: {', '.join(rows[0])})")
    labels = {str(r[id_column]): r[gold_column] for r in rows
              if r[id_column] is not None and r[gold_column] is not None}
    groups = ({str(r[id_column]): r[group_column] for r in rows if r[id_column] is not None}
              if group_column else None)
    read = read_articles(input_, mapping=parse_mapping(map_))
    embed = DEFAULTS.replace(embed={"model": model, "lead_tokens": lead_tokens}).embed
    from clustering.embed import Embedder

    embedder = Embedder(embed.model, lead_tokens=embed.lead_tokens, batch_size=embed.batch_size,
                        backend=embed.backend if embed.model is None else "torch")
    try:
        scorer, info = train_scorer(read.articles, labels, embedder, groups=groups, C=c,
                                    source=str(gold))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    scorer.save(out)
    for k, v in info.items():
        _say(f"{k}: {v}")
    _say(f"weights -> {out}   (use: news-cluster run ... --scorer-weights {out})")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

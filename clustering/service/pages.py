"""The story browser's HTML pages (server-rendered, self-contained: no script, no external asset).

Every piece of stored text goes through :func:`html.escape`; headline cells carry ``dir="auto"``
so Arabic renders right-to-left and Latin left-to-right in one table. The plot of a story's
articles per hour by source is a small inline SVG of stacked bars drawn here (pure functions
over the timeline dict of :meth:`clustering.store.Store.story_timeline`).
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from clustering.timeline import collapsed

e = html.escape

#: Bar colours, one per source (cycled); chosen to stay apart for the colour-blind (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;
font-size:14px;text-align:start;vertical-align:top}th{background:#f4f4f4}.n{text-align:end}
.muted{color:#666;font-size:13px}summary{cursor:pointer;color:#0072B2}a{color:#0050a0}
.ev-created{color:#009E73}.ev-merged_into,.ev-split_from{color:#D55E00}"""


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def _time(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def stories_page(stories: list[dict[str, Any]], *, day: str | None, days: tuple[str | None, str | None]
                 ) -> str:
    """The day's stories, largest first: headline (a link to its timeline), size (articles,
    near-duplicates included), units (near-duplicate groups), label terms, sources with counts,
    first and last seen. ``days`` is (previous day, next day) for the navigation links."""
    prev_day, next_day = days
    nav = " ".join(f'<a href="/stories?day={d}">{label}</a>'
                   for d, label in ((prev_day, "&larr; previous day"), (next_day, "next day &rarr;")) if d)
    rows = []
    for s in stories:
        sources = ", ".join(f"{e(src)} ({n})" for src, n in list(s["sources"].items())[:6])
        more = len(s["sources"]) - 6
        rows.append(
            f'<tr class="story"><td class="n">{s["size"]}</td><td class="n">{s["units"]}</td>'
            f'<td dir="auto"><a href="/stories/{quote(s["story_id"])}">{e(s["headline"] or s["story_id"])}</a>'
            f'<div class="muted" dir="auto">{e(", ".join(s["label_terms"]))}</div></td>'
            f'<td>{sources}{f" +{more} more" if more > 0 else ""}</td>'
            f'<td class="muted">{_time(s["first_seen"])} &ndash; {_time(s["last_seen"])}</td></tr>')
    table = ("<table><tr><th>articles</th><th>groups</th><th>story</th><th>sources</th><th>seen</th></tr>"
             + "".join(rows) + "</table>") if rows else "<p>No story in this window.</p>"
    head = f"Stories of {e(day)}" if day else "Stories"
    return _page(head, f"<h1>{head}</h1><p>{nav} &middot; {len(stories)} stories, largest first</p>{table}")


def hourly_by_source(articles: list[dict[str, Any]]) -> tuple[list[datetime], dict[str, list[int]]]:
    """Articles per clock hour by source: (the hours from the first to the last article's,
    source -> count per hour). Articles without a publication time are left out."""
    timed = [a for a in articles if a["published"]]
    if not timed:
        return [], {}
    floor = lambda t: t.replace(minute=0, second=0, microsecond=0)
    first, last = min(floor(a["published"]) for a in timed), max(floor(a["published"]) for a in timed)
    hours = [first + timedelta(hours=i) for i in range(int((last - first).total_seconds() // 3600) + 1)]
    index = {h: i for i, h in enumerate(hours)}
    counts = Counter((a["source"] or "?", index[floor(a["published"])]) for a in timed)
    sources = sorted({s for s, _ in counts}, key=lambda s: (-sum(n for (x, _), n in counts.items() if x == s), s))
    return hours, {s: [counts.get((s, i), 0) for i in range(len(hours))] for s in sources}


def hourly_svg(hours: list[datetime], series: dict[str, list[int]], *, width: int = 720,
               height: int = 180) -> str:
    """Stacked bars of articles per hour, one colour per source, with a legend (inline SVG)."""
    if not hours:
        return '<p class="muted">(no article of this story has a publication time)</p>'
    left, bottom, top = 34, 28, 8
    totals = [sum(v[i] for v in series.values()) for i in range(len(hours))]
    peak = max(totals) or 1
    bw = (width - left - 4) / len(hours)
    scale = (height - bottom - top) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="hourly" width="{width}" '
             f'height="{height + 18 * ((len(series) + 3) // 4)}" aria-label="articles per hour by source">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>',
             f'<text x="{left - 4}" y="{height - bottom}" font-size="11" text-anchor="end">0</text>']
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}
    for i, h in enumerate(hours):
        y = height - bottom
        for s, v in series.items():
            if v[i]:
                hgt = v[i] * scale
                y -= hgt
                parts.append(f'<rect x="{left + i * bw + 1:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" '
                             f'height="{hgt:.1f}" fill="{colour[s]}"><title>{e(s)} {h:%H}:00: {v[i]}</title></rect>')
        step = max(1, len(hours) // 12)
        if i % step == 0:
            parts.append(f'<text x="{left + i * bw + bw / 2:.1f}" y="{height - bottom + 14}" font-size="10" '
                         f'text-anchor="middle">{h:%d %H}h</text>')
    for j, s in enumerate(series):
        x, y = left + (j % 4) * 170, height + 4 + 18 * (j // 4)
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour[s]}"/>'
                     f'<text x="{x + 14}" y="{y + 9}" font-size="11">{e(s[:24])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_page(t: dict[str, Any]) -> str:
    """A story's page: header (status, size, time span, label terms), the articles-per-hour plot,
    the articles in time order one row per near-duplicate group (copies folded under a
    ``<details>``), and the story's events (created, grew, merged_into, split_from, went_quiet)."""
    rows = []
    for a, others in collapsed(t):
        copies = ""
        if others:
            items = "".join(f'<li dir="auto">{e(o["source"] or "?")}: {e(o["title"] or "")}</li>' for o in others)
            srcs = ", ".join(sorted({o["source"] or "?" for o in others})[:5])
            copies = (f'<details class="copies"><summary>+{len(others)} near-duplicate(s): {e(srcs)}</summary>'
                      f'<ul>{items}</ul></details>')
        rows.append(f'<tr class="article"><td class="muted">{_time(a["published"])}</td>'
                    f'<td>{e(a["source"] or "?")}</td>'
                    f'<td dir="auto" class="title">{e(a["title"] or "")}{copies}</td>'
                    f'<td class="muted">{e(a["reason"] or "")}</td></tr>')
    events = "".join(
        f'<li class="event ev-{e(x["kind"])}">{_time(x["time"])} <b>{e(x["kind"])}</b> '
        + (f'<a href="/stories/{quote(x["other_story_id"])}">{e(x["other_story_id"])}</a> '
           if x["other_story_id"] else "")
        + f'<span class="muted">{e(x["detail"] or "")}</span></li>' for x in t["events"])
    body = (f'<p><a href="/stories">&larr; all stories</a></p><h1 dir="auto">{e(t["headline"] or t["story_id"])}</h1>'
            f'<p>Story {e(t["story_id"])} ({e(t["status"])}) &middot; {t["size"]} articles in {t["units"]} '
            f'near-duplicate groups &middot; {_time(t["first_seen"])} &ndash; {_time(t["last_seen"])} &middot; '
            f'terms: <span dir="auto">{e(", ".join(t["label_terms"]))}</span></p>'
            f'<h2>Articles per hour by source</h2>{hourly_svg(*hourly_by_source(t["articles"]))}'
            '<h2>Articles</h2><table><tr><th>published</th><th>source</th><th>title</th><th>joined</th></tr>'
            f'{"".join(rows)}</table><h2>Events</h2><ul>{events}</ul>')
    return _page(f"Story {t['story_id']}", body)


def error_page(status: int, message: str) -> str:
    """A one-line error page (unknown story, bad parameter)."""
    return _page(f"{status}", f'<p><a href="/stories">&larr; all stories</a></p><h1>{status}</h1><p>{e(message)}</p>')

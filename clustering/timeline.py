"""Story timelines (as read by :meth:`clustering.store.Store.story_timeline`) rendered as text,
JSON or a self-contained HTML page (the time axis is drawn by matplotlib as inline SVG)."""

from __future__ import annotations

import html
import io
import json
from typing import Any


def collapsed(t: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The story's articles one line per near-duplicate group: ``(first article of the group
    in time order, the group's other articles in this story)``."""
    out: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for a in t["articles"]:
        if a["dup_group"] in out:
            out[a["dup_group"]][1].append(a)
        else:
            out[a["dup_group"]] = (a, [])
    return list(out.values())


def _copies(others: list[dict[str, Any]]) -> str:
    if not others:
        return ""
    sources = sorted({o["source"] or "?" for o in others})
    return f"  (+{len(others)} near-duplicate(s): {', '.join(sources[:5])})"


def render_text(t: dict[str, Any]) -> str:
    """A plain-text timeline: one line per near-duplicate group, with its copies' sources."""
    lines = [f"story {t['story_id']} ({t['status']}): {t['size']} articles, "
             f"{t['first_seen']} .. {t['last_seen']}",
             f"  label: {', '.join(t['label_terms'])}", f"  headline: {t['headline']}", "", "articles:"]
    for a, others in collapsed(t):
        lines.append(f"  {a['published'] or '(no time)'}  {a['source'] or '?':<22} {a['title']}"
                     f"{_copies(others)}")
    lines += ["", "events:"]
    lines += [f"  {e['time']}  {e['kind']:<12} {e['other_story_id'] or '':<9} {e['detail']}"
              for e in t["events"]]
    return "\n".join(lines)


def render_json(t: dict[str, Any]) -> str:
    """The timeline as indented JSON (times as ISO strings)."""
    return json.dumps(t, ensure_ascii=False, indent=2, default=str)


def _axis_svg(t: dict[str, Any]) -> str:
    """An SVG time axis: one dot per article (size by near-duplicates), one line per event."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [a["published"] for a in t["articles"] if a["published"]]
    if not times:
        return "<p>(no article of this story has a publication time)</p>"
    fig, ax = plt.subplots(figsize=(10, 2.2))
    sources = sorted({a["source"] or "?" for a in t["articles"]})
    ypos = {s: i for i, s in enumerate(sources)}
    for a in t["articles"]:
        if a["published"]:
            ax.scatter(a["published"], ypos[a["source"] or "?"], s=30 + 25 * a["near_duplicates"],
                       alpha=0.7)
    for e in t["events"]:
        ax.axvline(e["time"], color="grey", lw=0.8, ls=":")
    ax.set_yticks(range(len(sources)), sources, fontsize=7)
    ax.set_ylim(-0.8, len(sources) - 0.2)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def render_html(t: dict[str, Any]) -> str:
    """A self-contained HTML page (no external assets): header, SVG time axis, article table
    (right-to-left text handled per cell with ``dir=auto``), events."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(str(a['published'] or ''))}</td><td>{e(a['source'] or '')}</td>"
        f"<td dir='auto'>{e(a['title'] or '')}</td><td>{e(_copies(others).strip())}</td></tr>"
        for a, others in collapsed(t))
    events = "".join(f"<li>{e(str(x['time']))} <b>{e(x['kind'])}</b> {e(x['other_story_id'] or '')} "
                     f"{e(x['detail'] or '')}</li>" for x in t["events"])
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Story {e(t['story_id'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:4px 8px;font-size:14px}}</style></head><body>
<h1 dir="auto">{e(t['headline'] or t['story_id'])}</h1>
<p>Story {e(t['story_id'])} ({e(t['status'])}) &middot; {t['size']} articles &middot;
{e(str(t['first_seen']))} &ndash; {e(str(t['last_seen']))} &middot; terms:
<span dir="auto">{e(', '.join(t['label_terms']))}</span></p>
{_axis_svg(t)}
<h2>Articles</h2><table><tr><th>published</th><th>source</th><th>title</th><th>near-duplicates</th></tr>
{rows}</table><h2>Events</h2><ul>{events}</ul></body></html>"""

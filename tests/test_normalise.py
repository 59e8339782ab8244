"""Tests for clustering.normalise: one test per rule, teasers, idempotence on the seed page."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from clustering.normalise import (
    DEFAULT_TEASERS,
    TeaserRules,
    fold_pattern,
    normalise,
    strip_teasers,
    tokens,
)

SEED = Path(__file__).resolve().parent.parent / "data" / "seed-page" / "similar_articles_page_ar.txt"


def n(text: str) -> str:
    """Character rules only (no teaser stripping)."""
    return normalise(text, teasers=None)


# --- Arabic letters and marks -----------------------------------------------------------------


def test_harakat_removed():
    # fatha, damma, kasra, sukun, shadda, tanween
    assert n("قَبِلَ الدُّعوةَ كُتُبٌ مُدُنٍ سْ") == n("قبل الدعوة كتب مدن س")
    assert n("قبِل") == "قبل"
    assert n("أنّ") == "ان"
    assert n("مناسباً") == "مناسبا"


def test_superscript_alef_and_quranic_marks_removed():
    assert n("هٰذا") == "هذا"  # U+0670
    assert n("الرَّحِيمِ ۝") == "الرحيم"  # U+06DD end of ayah
    assert n("قال\u06d6") == "قال"


def test_tatweel_removed():
    assert n("بـ”التورط") == n("ب”التورط")
    assert n("الـــعربية") == "العربيه"


@pytest.mark.parametrize("alef", ["أ", "إ", "آ", "ٱ"])
def test_alef_forms_unified(alef):
    assert n(f"{alef}حمد") == "احمد"


def test_alef_decomposed_hamza_composes_then_unifies():
    # ا + U+0654 (combining hamza above) is أ after NFKC, then ا
    assert n("ا\u0654حمد") == "احمد"


def test_alef_maksura_to_yeh():
    assert n("على") == n("علي") == "علي"
    # Egyptian final ى for ي
    assert n("مصرى") == n("مصري")


def test_teh_marbuta_to_heh():
    assert n("القمّة") == "القمه"
    assert n("الشمالية") == n("الشماليه")


def test_arabic_indic_digits():
    assert n("٠١٢٣٤٥٦٧٨٩") == "0123456789"
    assert n("٢١ قتيلا") == "21 قتيلا"


def test_persian_digits():
    assert n("۰۱۲۳۴۵۶۷۸۹") == "0123456789"
    assert n("۲۱") == "21"


def test_digits_kept_and_distinct():
    assert n("2 killed") != n("21 killed")
    assert n("٢ قتلى") != n("٢١ قتلى")
    assert n("٢١") == "21"
    assert tokens(n("Attack kills 21 in 2024")) == ["attack", "kills", "21", "in", "2024"]


def test_arabic_punctuation():
    assert n("نعم، لا؛ لماذا؟") == "نعم, لا; لماذا?"


def test_presentation_forms_nfkc():
    assert n("ﻻ") == "لا"  # lam-alef ligature (TR#15 compatibility decomposition)
    assert n("ﺍﻟﻌﺮﺑﻴﺔ") == "العربيه"  # presentation forms to base letters


# --- invisible characters -----------------------------------------------------------------


def test_bidi_and_zero_width_removed():
    clean = "بوتين يقبل دعوة كيم جونغ-أون لزيارة كوريا الشمالية"
    dirty = ("\u202b\u200fبوتين يقبل\u200b دعوة \u200eكيم\u200f جونغ\u00ad-أون\u202c "
             "لزيا\u200cرة \u2067كوريا\u2069 الشمالية\ufeff\u061c")
    assert n(dirty) == n(clean)
    assert normalise(dirty) == normalise(clean)


# --- quotes, dashes, case, whitespace --------------------------------------------------------


def test_quote_variants():
    assert n("“a” „b“ «c» ‹d› ″e″") == '"a" "b" "c" \'d\' "e"'
    assert n("‘x’ ‚y‛ ′z′") == "'x' 'y' 'z'"
    assert n("”التورط المباشر“") == '"التورط المباشر"'


def test_dash_variants():
    assert n("a–b—c―d−e‐f‑g‒h") == "a-b-c-d-e-f-g-h"


def test_casefold_and_whitespace():
    assert n("  Breaking\tNEWS \n Straße ") == "breaking news strasse"
    assert n("a\u00a0b\u2028c") == "a b c"


# --- teasers ----------------------------------------------------------------------------------

ARABIC_PREFIX_CASES = [
    "بالصور.. الرئيس يصل",
    "بالفيديو... الرئيس يصل",
    "فيديو: الرئيس يصل",
    "صور | الرئيس يصل",
    "عاجل - الرئيس يصل",
    "خاص، الرئيس يصل",
    "حصري: الرئيس يصل",
    "شاهد.. الرئيس يصل",
    "انفوجراف: الرئيس يصل",
    "إنفوجراف | الرئيس يصل",
    "تقرير - الرئيس يصل",
    "عاجل -الرئيس يصل",
    "عاجل…الرئيس يصل",
]


@pytest.mark.parametrize("text", ARABIC_PREFIX_CASES)
def test_arabic_teaser_prefix(text):
    assert normalise(text) == "الرئيس يصل"


ENGLISH_PREFIX_CASES = [
    "Breaking: President arrives",
    "BREAKING NEWS | President arrives",
    "Watch - President arrives",
    "Video: President arrives",
    "Photos | President arrives",
    "Exclusive: President arrives",
    "Update - President arrives",
    "LIVE: President arrives",
]


@pytest.mark.parametrize("text", ENGLISH_PREFIX_CASES)
def test_english_teaser_prefix(text):
    assert normalise(text) == "president arrives"


SUFFIX_CASES = [
    ("الرئيس يصل | فيديو", "الرئيس يصل"),
    ("الرئيس يصل - صور", "الرئيس يصل"),
    ("الرئيس يصل (فيديو)", "الرئيس يصل"),
    ("الرئيس يصل (صور)", "الرئيس يصل"),
    ("President arrives (video)", "president arrives"),
    ("President arrives [photos]", "president arrives"),
    ("President arrives | Video", "president arrives"),
    ("الرئيس يصل ..", "الرئيس يصل"),
    ("الرئيس يصل...", "الرئيس يصل"),
]


@pytest.mark.parametrize("text,expected", SUFFIX_CASES)
def test_teaser_suffix(text, expected):
    assert normalise(text) == expected


def test_teasers_stripped_repeatedly():
    assert normalise("عاجل | بالفيديو.. الرئيس يصل (فيديو) ..") == "الرئيس يصل"


@pytest.mark.parametrize("text", [
    "الرئيس يشاهد فيديو عاجل عن صور الحرب",
    "Police release video of the attack",
    "Video-game sales rise",  # hyphenated word, not a separator
    "Watch the skies, say astronomers",  # strict English prefix needs : | -
    "صور الأقمار الصناعية تكشف الدمار",  # no separator after the word
    "Kim's visit - a live report",
])
def test_teaser_word_in_middle_or_without_separator_unchanged(text):
    assert normalise(text) == n(text)


def test_teaser_only_headline_not_emptied():
    assert normalise("فيديو:") == "فيديو:"
    assert normalise("(video)") == "(video)"


def test_teaser_rules_configurable():
    rules = TeaserRules.from_lines(["# comment", "", "prefix: مباشر", "strict-prefix: Opinion",
                                    "suffix: إنفوجراف"])
    assert rules.prefixes == ("مباشر",)
    assert normalise("مباشر.. الرئيس يصل", teasers=rules) == "الرئيس يصل"
    assert normalise("Opinion: the case for x", teasers=rules) == "the case for x"
    assert normalise("الرئيس يصل | انفوجراف", teasers=rules) == "الرئيس يصل"
    # default rules are not in this set
    assert normalise("عاجل: الرئيس يصل", teasers=rules) == "عاجل: الرئيس يصل"
    with pytest.raises(ValueError):
        TeaserRules.from_lines(["middle: x"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.prefixes = ()  # type: ignore[misc]


def test_strip_teasers_on_normalised_text():
    # rule words are normalised too: "إنفوجراف" matches text whose alef was unified
    assert strip_teasers(n("إنفوجراف: الصادرات")) == "الصادرات"
    assert strip_teasers(n("بالصور.. زعيم كوريا"), DEFAULT_TEASERS) == n("زعيم كوريا")


def test_seed_headlines_with_teaser_match_clean_version():
    a = "بالصور.. زعيم كوريا الشمالية يأمر بتعزيز القدرات النووية البحرية"
    b = "زعيم كوريا الشمالية يأمر بتعزيز القدرات النووية البحرية"
    assert normalise(a) == normalise(b)


# --- idempotence, mixed script, tokens ---------------------------------------------------------


def test_idempotent_on_seed_lines():
    lines = SEED.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 30
    for line in lines + [SEED.read_text(encoding="utf-8")]:
        once = normalise(line)
        assert normalise(once) == once, line
        plain = n(line)
        assert n(plain) == plain


@pytest.mark.parametrize("text", [
    "e\u200b\u0301",  # zero-width between base and combining accent
    "ﬁ İstanbul ẞ",
    "عاجل | عاجل: فيديو.. x",
])
def test_idempotent_edge_cases(text):
    once = normalise(text)
    assert normalise(once) == once


def test_mixed_script():
    text = "تابعوا آخر أخبار العربية عبر Google News – “Putin” يلتقي KIM في ٢٠٢٤"
    out = n(text)
    assert out == 'تابعوا اخر اخبار العربيه عبر google news - "putin" يلتقي kim في 2024'
    assert tokens(out) == ["تابعوا", "اخر", "اخبار", "العربيه", "عبر", "google", "news", "putin",
                           "يلتقي", "kim", "في", "2024"]


def test_tokens_drop_punctuation_keep_marks():
    assert tokens(n("كيم جونغ-أون: «مهمة مقدسة»!")) == ["كيم", "جونغ", "اون", "مهمه", "مقدسه"]
    assert tokens("snake_case a.b") == ["snake", "case", "a", "b"]
    assert tokens("हिन्दी समाचार") == ["हिन्दी", "समाचार"]  # combining vowel signs stay in words
    assert tokens("") == []


def test_fold_pattern_keeps_regex_syntax():
    assert fold_pattern(r"^\S+ إعلانية\b") == r"^\S+ اعلانيه\b"

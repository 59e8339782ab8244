"""Tests for clustering.io.page.read_page on the real seed page, on HTML, and on bad input."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from pathlib import Path

import pytest

from clustering.io.errors import InputError
from clustering.io.page import looks_like_headline, read_page
from clustering.normalise import normalise

SEED = Path(__file__).resolve().parent.parent / "data" / "seed-page" / "similar_articles_page_ar.txt"
PAGE_ID = "similar_articles_page_ar"

RELATED = [
    "بالصور.. زعيم كوريا الشمالية يأمر بتعزيز القدرات النووية البحرية",
    "زعيم كوريا الشمالية يوجه بسرعة التسليح النووي لقواته البحرية",
    "كوريا الشمالية تعترف بإرسال قوات إلى روسيا وبوتين يشكرها",
    "كوريا الشمالية تدعم روسيا عسكرياً في حربها ضد أوكرانيا.. بوتين يشكرها",
    "بوتين يشكر كوريا الشمالية على مشاركة جنودها بقتال كورسك",
    "بوتين يشكر كوريا الشمالية على مشاركة جنودها بقتال كورسك .. وكيم: مهمة مقدسة",
    "بيونغ يانغ تعلن رسميا إرسال قوات إلى روسيا",
    "بوتين يعرب عن امتنانه لزعيم كوريا الشمالية.. اعرف السبب",
    "بوتين: قوات كوريا الشمالية ساعدتنا على صد الهجمات الأوكرانية",
    "كوريا الشمالية تقر لأول مرة بالمشاركة في حرب أوكرانيا.. وزعيمها يعلق",
]
READ_ALSO_TITLE = "كوريا الشمالية تدعم روسيا عسكرياً في حربها ضد أوكرانيا.. بوتين يشكرها"

#: Normalised fragments of the seed page's boilerplate lines.
BOILERPLATE = ["مادة اعلانية", "مادة إعلانية", "Google News", "المصدر", "كلمات دلالية", "إقرأ أيضاً",
               "مقالات مشابهة"]


@pytest.fixture(scope="module")
def seed():
    return read_page(SEED)


def test_page_article_with_body(seed):
    arts, _ = seed
    page = arts[0]
    assert page.id == PAGE_ID
    assert page.listed_on is None
    assert page.order == 0
    # the first line is a body sentence (ends with a full stop), not a headline
    assert page.title == ""
    assert page.text.startswith("أعلنت بيونغ يانغ الخميس أنّ الرئيس الروسي فلاديمير بوتين قبِل دعوة")
    assert "قبِل الدعوة بكلّ سرور" in page.text  # original text kept (harakat and all)
    assert page.text.endswith("الديموقراطية\".")
    assert len(page.text.split("\n")) == 2


def test_read_also_item(seed):
    arts, _ = seed
    ra = [a for a in arts if "#readalso-" in a.id]
    assert len(ra) == 1
    item = ra[0]
    assert item.id == f"{PAGE_ID}#readalso-1"
    assert item.title == READ_ALSO_TITLE
    assert item.listed_on == PAGE_ID
    assert item.text.startswith("أكدت كوريا الشمالية، للمرة الأولى، إرسال قوات عسكرية")
    assert item.text.endswith("بشأن الصراع في أوكرانيا.")
    assert len(item.text.split("\n")) == 8  # page lines 16-30
    assert "مقالات مشابهة" not in item.text


def test_exactly_ten_related_in_page_order(seed):
    arts, skips = seed
    rel = [a for a in arts if "#related-" in a.id]
    assert [a.title for a in rel] == RELATED
    assert all(a.listed_on == PAGE_ID and a.text == "" for a in rel)
    assert [a.id for a in rel] == [f"{PAGE_ID}#related-{k}" for k in range(1, 11)]
    orders = [a.order for a in arts]
    assert orders == list(range(len(arts)))
    assert skips.total == 0


def test_no_boilerplate_in_items(seed):
    arts, _ = seed
    needles = [normalise(b, teasers=None) for b in BOILERPLATE]
    for a in arts:
        for field in (a.title, a.text):
            norm = normalise(field, teasers=None)
            for needle in needles:
                assert needle not in norm, (a.id, needle)
        assert "•" not in a.title


def test_ids_unique_and_stable(seed):
    arts, _ = seed
    ids = [a.id for a in arts]
    assert len(ids) == len(set(ids)) == 12
    again, _ = read_page(SEED)
    assert again == arts


def test_arguments_passed_through():
    when = datetime(2024, 6, 13, 9, 30)
    arts, _ = read_page(SEED, page_id="alarabiya-1", source="العربية", published=when,
                        start_order=100)
    assert arts[0].id == "alarabiya-1"
    assert arts[0].published == when.replace(tzinfo=timezone.utc)
    assert all(a.source == "العربية" for a in arts)
    assert [a.order for a in arts] == list(range(100, 112))
    assert all(a.listed_on == "alarabiya-1" for a in arts[1:])
    assert arts[-1].id == "alarabiya-1#related-10"
    assert all(a.published is None for a in arts[1:])


def test_windows_1256_copy_reads_same(tmp_path, seed):
    p = tmp_path / "page1256.txt"
    p.write_bytes(SEED.read_text(encoding="utf-8").encode("cp1256"))
    arts, _ = read_page(p, page_id=PAGE_ID)
    assert [(a.id, a.title, a.text) for a in arts] == [(a.id, a.title, a.text) for a in seed[0]]


def test_utf8_bom_and_gzip(tmp_path, seed):
    p = tmp_path / "bom.txt"
    p.write_bytes(b"\xef\xbb\xbf" + SEED.read_bytes())
    assert read_page(p, page_id=PAGE_ID)[0] == seed[0]
    g = tmp_path / "page.txt.gz"
    g.write_bytes(gzip.compress(SEED.read_bytes()))
    arts, _ = read_page(g)
    assert arts[0].id == "page"
    assert [a.title for a in arts[1:]] == [a.title for a in seed[0][1:]]


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        read_page("/nonexistent/dir/page.txt")


def test_undecodable_file(tmp_path):
    p = tmp_path / "junk.txt"
    p.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(InputError, match="junk.txt"):
        read_page(p)


def test_empty_headlines_counted_and_headline_title(tmp_path):
    p = tmp_path / "en.txt"
    p.write_text(
        "Putin accepts Kim's invitation to visit North Korea\n\n"
        "Putin accepted an invitation, state media said.\n"
        "Advertisement\n"
        "Follow us on Twitter\n"
        "Share this article\n"
        "Source: Reuters\n"
        "Tags: Putin, Kim\n\n"
        "Read also: Kim thanks Russia\n"
        "Related articles:\n"
        "1. Kim visits Vostochny\n"
        "•\n"
        "- 2 killed in strike\n"
        "- Putin - Kim summit ends\n"
        "Copyright 2024 Example News\n"
        "Some footer text after the list\n",
        encoding="utf-8",
    )
    arts, skips = read_page(p)
    assert arts[0].title == "Putin accepts Kim's invitation to visit North Korea"
    assert arts[0].text == "Putin accepted an invitation, state media said."
    assert [(a.id.split("#")[1], a.title) for a in arts[1:]] == [
        ("readalso-1", "Kim thanks Russia"),
        ("related-1", "Kim visits Vostochny"),
        ("related-2", "2 killed in strike"),
        ("related-3", "Putin - Kim summit ends"),
    ]
    assert skips.reasons["empty headline"] == 1
    assert skips.reasons["text after list"] == 1


def test_looks_like_headline():
    assert looks_like_headline("بوتين يشكر كوريا الشمالية على مشاركة جنودها بقتال كورسك")
    assert looks_like_headline("كوريا الشمالية تدعم روسيا عسكرياً.. بوتين يشكرها..")
    assert not looks_like_headline("قال الرئيس إن المحادثات كانت مثمرة.")
    assert not looks_like_headline(" ".join(["كلمة"] * 30))
    assert not looks_like_headline("")


HTML = """<!DOCTYPE html>
<html lang="ar"><head><meta charset="utf-8"><title>بوتين يقبل دعوة | العربية</title>
<link rel="canonical" href="https://example.com/news/putin-visit"></head>
<body>
<nav><a href="/">الرئيسية</a> <a href="/politics">سياسة</a></nav>
<article>
<h1>بوتين يقبل دعوة لزيارة كوريا الشمالية</h1>
<p>أعلنت بيونغ يانغ الخميس أنّ الرئيس الروسي فلاديمير بوتين قبِل دعوة لزيارة كوريا الشمالية
وجهّها إليه الزعيم كيم جونغ-أون خلال القمّة التي جمعتهما في روسيا الأربعاء.</p>
<p>وقالت وكالة الأنباء الكورية الشمالية الرسمية إنّه في ختام القمّة دعا كيم جونغ-أون بوتين
بلباقة لزيارة جمهورية كوريا الشعبية الديموقراطية في الوقت الذي يجده مناسباً.</p>
<p>مادة إعلانية</p>
<p>المصدر: العربية</p>
</article>
<aside>
<h3>مقالات مشابهة</h3>
<ul>
<li><a href="/a1"><img src="a1.jpg" alt=""></a><a href="/a1">بالصور.. زعيم كوريا الشمالية يأمر بتعزيز القدرات النووية البحرية</a></li>
<li><a href="/a2">زعيم كوريا الشمالية يوجه بسرعة التسليح النووي لقواته البحرية</a></li>
<li><a href="/a3">بيونغ يانغ تعلن رسميا إرسال قوات إلى روسيا</a></li>
<li><a href="/a4"> </a></li>
</ul>
</aside>
<footer><p>جميع الحقوق محفوظة</p><a href="/about">من نحن</a></footer>
</body></html>
"""


def test_html_page(tmp_path):
    p = tmp_path / "putin.html"
    p.write_text(HTML, encoding="utf-8")
    arts, skips = read_page(p)
    page = arts[0]
    assert page.id == "putin"
    assert page.title == "بوتين يقبل دعوة لزيارة كوريا الشمالية"
    assert "أعلنت بيونغ يانغ الخميس" in page.text
    assert "المصدر" not in page.text and "إعلانية" not in page.text
    assert page.url == "https://example.com/news/putin-visit"
    rel = arts[1:]
    assert [a.title for a in rel] == [
        "بالصور.. زعيم كوريا الشمالية يأمر بتعزيز القدرات النووية البحرية",
        "زعيم كوريا الشمالية يوجه بسرعة التسليح النووي لقواته البحرية",
        "بيونغ يانغ تعلن رسميا إرسال قوات إلى روسيا",
    ]
    assert [a.id for a in rel] == [f"putin#related-{k}" for k in (1, 2, 3)]
    assert all(a.listed_on == "putin" for a in rel)
    assert rel[0].url == "https://example.com/a1"
    assert skips.reasons["empty headline"] == 1


def test_html_detected_by_content_and_heading_in_wrapper(tmp_path):
    html = (
        "<html><body><div class='story'><p>" + "Officials said the talks went well. " * 20 +
        "</p></div><div class='box'><div class='title'><span>Related</span></div>"
        "<div class='list'><a href='/x'>Talks end in Vladivostok</a>"
        "<a href='/y'><h3>Kim returns home</h3><span>2 hours ago</span></a></div></div>"
        "</body></html>"
    )
    p = tmp_path / "page.txt"  # not an .html suffix: detected by the leading "<"
    p.write_text(html, encoding="utf-8")
    arts, _ = read_page(p)
    assert "talks went well" in arts[0].text
    assert [a.title for a in arts[1:]] == ["Talks end in Vladivostok", "Kim returns home"]


def test_html_inline_read_also_box(tmp_path):
    html = (
        "<html><head><title>t</title></head><body><article><h1>Summit ends</h1>"
        "<p>" + "The leaders met for two days and signed several agreements. " * 6 + "</p>"
        "<p><strong>اقرأ أيضاً:</strong> <a href='/z'>بوتين يشكر كوريا الشمالية</a></p>"
        "<p>" + "Both sides promised to meet again next year in Pyongyang. " * 6 + "</p>"
        "</article></body></html>"
    )
    p = tmp_path / "summit.html"
    p.write_text(html, encoding="utf-8")
    arts, _ = read_page(p)
    assert arts[0].title == "Summit ends"
    assert "meet again next year" in arts[0].text  # body continues after the box
    assert "بوتين يشكر" not in arts[0].text
    assert [(a.id, a.title) for a in arts[1:]] == [("summit#readalso-1", "بوتين يشكر كوريا الشمالية")]


def test_heading_lists_are_configurable(tmp_path, monkeypatch):
    import clustering.io.page as page

    p = tmp_path / "custom.txt"
    p.write_text("Body text here.\n\nSponsored by Acme\n\nMore from us\n- One headline\n",
                 encoding="utf-8")
    arts, _ = read_page(p)
    assert len(arts) == 1 and "More from us" in arts[0].text
    monkeypatch.setattr(page, "RELATED_HEADINGS", page.RELATED_HEADINGS + ["More from us"])
    monkeypatch.setattr(page, "BOILERPLATE_PATTERNS", page.BOILERPLATE_PATTERNS + [r"^sponsored by "])
    arts, _ = read_page(p)
    assert arts[0].text == "Body text here."
    assert [(a.title, a.listed_on) for a in arts[1:]] == [("One headline", "custom")]

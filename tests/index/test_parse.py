"""Parsing bulletins: what a user sees of a bulletin (its sections, its paragraphs and their ids) from every format."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader

from index.parse import FORMATS, Bulletin, ParseError, _blocks, load, parse
from index.text import clean_markdown

SECTION_TITLES = [
    "Introduction",
    "UNOCT Mandate",
    "Political Leadership",
    "Highlights",
    "UN Counter-Terrorism Centre (UNCCT)",
    "Special Projects & Innovation Branch (SPIB)",
    "Top Contributors to UNOCT",
    "UN Global Counter-Terrorism Strategy",
    "UN Counter-Terrorism Centre: Jan-Mar 2021",
]


@pytest.fixture(scope="module")
def seed(seed_path) -> Bulletin:
    return load(seed_path)


def texts(bulletin: Bulletin) -> list[str]:
    return [paragraph.text for _, paragraph in bulletin.paragraphs()]


def section(bulletin: Bulletin, title: str):
    return next(s for s in bulletin.sections if s.title == title)


def only(bulletin: Bulletin, *needles: str):
    """The one paragraph that holds every needle."""
    hits = [(s, p) for s, p in bulletin.paragraphs() if all(n in p.text for n in needles)]
    assert len(hits) == 1, f"{len(hits)} paragraphs hold {needles}"
    return hits[0]


# --- the seed bulletin ---------------------------------------------------------------------------------------


def test_seed_sections_are_exactly_the_detected_headings(seed):
    assert [s.title for s in seed.sections] == SECTION_TITLES


def test_contd_heading_resumes_the_section_it_names(seed):
    assert not any("cont'd" in s.title.lower() or "continued" in s.title.lower() for s in seed.sections)
    assert "Capacity Building" not in [s.title for s in seed.sections]
    uncct = section(seed, "UN Counter-Terrorism Centre (UNCCT)")
    # the paragraphs after "► Capacity Building (cont'd)" go on in the UNCCT section, numbered on from the first half
    after = only(seed, "regional workshop on fostering judicial and law enforcement cooperation")
    assert after[0] is uncct
    assert [p.ordinal for p in uncct.paragraphs] == list(range(1, len(uncct.paragraphs) + 1))
    assert len(uncct.paragraphs) == 8


def test_page_furniture_is_dropped(seed):
    assert "UNOCT Office Structure" not in [s.title for s in seed.sections]
    for text in texts(seed):
        assert "UNOCT Office Structure" not in text
        assert "www.un.org" not in text


@pytest.mark.parametrize(
    "needles",
    [
        ("ESAAMLG", "291 participants"),
        ("The workshops provided practical guidance",),
        ("contactless biometrics", "IOM, UNCTED, UNODC"),
        ("law enforcement entities in responding to serious public health emergencies",),
        ("recommendations for designing rehabilitation programmes",),
    ],
)
def test_paragraphs_broken_by_a_page_or_column_break_are_rejoined(seed, needles):
    sec, paragraph = only(seed, *needles)
    assert sec.title == "UN Counter-Terrorism Centre (UNCCT)"
    assert "  " not in paragraph.text


def test_esaamlg_paragraph_is_whole(seed):
    _, paragraph = only(seed, "ESAAMLG")
    assert paragraph.text.startswith("UNCCT and the Eastern & Southern Africa Anti-Money Laundering Group (ESAAMLG)")
    assert "prosecution in countering the financing of terrorism with around 291 participants" in paragraph.text
    assert paragraph.text.endswith("from 19 countries. (11-12 & 15 March)")


def test_figures_block_becomes_one_readable_paragraph(seed):
    figures = section(seed, "UN Counter-Terrorism Centre: Jan-Mar 2021")
    assert [p.text for p in figures.paragraphs] == [
        "1,061 Individuals trained; 16 Workshops organized; 19 Expert meetings held"
    ]
    pillars = section(seed, "UN Global Counter-Terrorism Strategy").paragraphs
    assert len(pillars) == 1
    assert pillars[0].text.startswith("Pillar I: Addressing the condition conducive to the spread of terrorism; ")
    assert pillars[0].text.endswith("Pillar IV: Ensuring human rights and the rule of law")


def test_text_is_clean(seed):
    for value in [s.title for s in seed.sections] + texts(seed):
        for junk in ("\\$", "](#)", "**", "▶", "►", "\\", "[", "](", "  ", "\n"):
            assert junk not in value, f"{junk!r} in {value[:80]!r}"
        assert value == value.strip()
    _, money = only(seed, "Canada")
    assert "Canada (US$1,139,987)" in money.text and "India ($500,000)" in money.text
    _, reports = only(seed, "A/74/677")
    assert "(A/74/677 and A/75/729)" in reports.text and "(i) reinvigorating" in reports.text


def test_bullets_are_paragraphs(seed):
    mandate = section(seed, "UNOCT Mandate").paragraphs
    assert mandate[0].text == "Established through GA resolution 71/291 on 15 June 2017, the Office has 5 functions:"
    starts = ["Provide leadership", "Enhance coordination", "Strengthen delivery", "Improve visibility",
              "Ensure that due priority is given"]
    assert len(mandate) == 1 + 5
    for paragraph, start in zip(mandate[1:], starts):
        assert paragraph.text.startswith(start)
    highlights = section(seed, "Highlights").paragraphs
    assert len(highlights) == 2
    assert highlights[0].text.startswith("UNOCT organized the third meeting")
    assert highlights[1].text.startswith("In March, UNOCT received")


def test_bulletin_identity(seed):
    assert seed.id == "unoct-highlights-2021-03"
    assert seed.title == "UNOCT Highlights"
    assert (seed.period, seed.period_start, seed.period_end) == ("March 2021", "2021-03", "2021-03")
    assert len(seed.sha256) == 64


def test_paragraph_ids_are_unique_and_stable_across_parses(seed, seed_path):
    again = parse(seed_path.read_bytes(), seed_path.name)
    ids = [p.id for _, p in seed.paragraphs()]
    assert len(set(ids)) == len(ids)
    assert ids == [p.id for _, p in again.paragraphs()]
    assert all(re.fullmatch(r"p-[0-9a-f]{10}(-\d+)?", pid) for pid in ids)


def test_editing_one_paragraph_leaves_every_other_id_alone(seed, seed_path):
    source = seed_path.read_text(encoding="utf-8")
    edited = source.replace("enabling principled humanitarian action. (5 March)",
                            "enabling principled humanitarian action. (6 March)")
    inserted = edited.replace(
        "▶ Capacity Building",
        "- UNOCT briefed Member States on its new results framework. (31 March)\n\n▶ Capacity Building",
    )
    assert inserted.count("(6 March)") == 1 and "results framework" in inserted
    after = parse(inserted.encode(), seed_path.name)
    before_ids = {p.id: p.text for _, p in seed.paragraphs()}
    after_ids = {p.id: p.text for _, p in after.paragraphs()}
    changed = {pid for pid in before_ids if pid not in after_ids}
    assert [before_ids[pid][-9:] for pid in changed] == ["(5 March)"]
    assert len(after_ids) == len(before_ids) + 1
    for pid, text in before_ids.items():
        if pid not in changed:
            assert after_ids[pid] == text


# --- other inputs ----------------------------------------------------------------------------------------------


def test_range_period_is_found_in_the_text_when_the_name_has_none():
    text = "Quarterly Report\n\nUN Counter-Terrorism Centre: Jan-Mar 2021\n\n1,061\nIndividuals trained\n"
    bulletin = parse(text.encode(), "quarterly-report.txt")
    assert (bulletin.period, bulletin.period_start, bulletin.period_end) == ("Jan-Mar 2021", "2021-01", "2021-03")
    assert bulletin.id == "quarterly-report"


def test_quarterly_and_seasonal_bulletins_cover_their_months():
    quarterly = parse(b"# Quarterly Operations Report \xe2\x80\x94 July to September 2025\n\nThe Bank approved 14 "
                      b"operations.\n", "mrdb-quarterly.md")
    assert (quarterly.period, quarterly.period_start, quarterly.period_end) == ("Jul-Sep 2025", "2025-07", "2025-09")
    by_name = parse(b"The Centre opened a second site.\n", "icscd-highlights-2023-q4.txt")
    assert (by_name.period_start, by_name.period_end) == ("2023-10", "2023-12")
    seasonal = parse(b"<html><head><title>Wingbeat \xe2\x80\x94 Spring 2025</title></head><body><p>Spring is our "
                     b"season of counting.</p></body></html>", "wingbeat.html")
    assert (seasonal.period, seasonal.period_start, seasonal.period_end) == ("Mar-May 2025", "2025-03", "2025-05")


def test_markdown_headings():
    text = (
        "# Weekly Bulletin, April 2022\n\nSome framing words about the week.\n\n## Training\n\n"
        "The Centre **trained** 40 officers in [border security](https://example.org).\n\n"
        "- First item of the list.\n- Second item of the list.\n\n### Funding\n\nCanada pledged \\$2 million.\n"
    )
    bulletin = parse(text.encode(), "weekly.md")
    assert bulletin.title == "Weekly Bulletin, April 2022"
    assert (bulletin.period, bulletin.period_start) == ("April 2022", "2022-04")
    assert [(s.title, [p.text for p in s.paragraphs]) for s in bulletin.sections] == [
        ("Weekly Bulletin, April 2022", ["Some framing words about the week."]),
        ("Training", ["The Centre trained 40 officers in border security.", "First item of the list.",
                      "Second item of the list."]),
        ("Funding", ["Canada pledged $2 million."]),
    ]


def test_markdown_html_comments_are_dropped():
    """A comment is invisible in rendered Markdown (an editor's note on the first line, a licence line, a note
    inside a paragraph), so it is never a paragraph, a title or a period; in a code block it is text."""
    text = (
        "<!-- Draft for review, June 2019: not for circulation -->\n# Weekly Bulletin, April 2022\n\n"
        "The Centre trained 40 officers<!-- check the count --> in border security.\n\n<!--\nA note\n\n"
        "over two paragraphs.\n-->\n\n## Code\n\n```\n<!-- shown as text -->\n```\n"
    )
    bulletin = parse(text.encode(), "weekly.md")
    assert bulletin.title == "Weekly Bulletin, April 2022"
    assert bulletin.period == "April 2022"
    paragraphs = texts(bulletin)
    assert paragraphs[0] == "The Centre trained 40 officers in border security."
    assert not any("Draft" in p or "note" in p or "check" in p for p in paragraphs)
    assert any("<!-- shown as text -->" in p for p in paragraphs)


def test_synthetic_bulletins_first_line_comment_is_not_a_paragraph():
    data = Path(__file__).resolve().parents[2] / "bench" / "data"
    for path in sorted(p for folder in ("synthetic", "unseen") for p in (data / folder).iterdir() if p.suffix in FORMATS):
        assert path.read_text(encoding="utf-8").startswith("<!--")
        assert not any("<!--" in p or "fictional" in p.lower() for p in texts(load(path))), path.name


def test_plain_text_file(tmp_path):
    path = tmp_path / "Field Notes 2020-11.txt"
    path.write_text(
        "The mission met local partners\nin the capital. It went well.\n\nTraining Results\n\n"
        "Forty officers were trained.\n",
        encoding="utf-8",
    )
    bulletin = load(path)
    assert bulletin.id == "field-notes-2020-11"
    assert bulletin.title == "Field Notes"
    assert bulletin.period == "November 2020"
    assert bulletin.source == str(path)
    assert [(s.title, [p.text for p in s.paragraphs]) for s in bulletin.sections] == [
        ("Introduction", ["The mission met local partners in the capital. It went well."]),
        ("Training Results", ["Forty officers were trained."]),
    ]


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"Some text.", "bulletin.docx", "unsupported file type .docx"),
        (b"Some text.", "bulletin", "unsupported file type (none)"),
        (b"Caf\xe9 au lait was served.\n", "bulletin.md", "not UTF-8"),
        (b"\xff\xfe\x00\x00", "bulletin.txt", "not UTF-8"),
        (b"", "bulletin.md", "no text found"),
        (b"  \n\n \t\n", "bulletin.txt", "no text found"),
        (b"", "bulletin.html", "no text found"),
        (b"<html><body><script>var a = 1;</script></body></html>", "bulletin.html", "no text found"),
        (b"", "bulletin.pdf", "not a PDF"),
        (b"Hello, I am plain text.", "bulletin.pdf", "not a PDF"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(data, name, message):
    with pytest.raises(ParseError) as caught:
        parse(data, name)
    assert message in str(caught.value)


def test_html_page():
    page = b"""<!doctype html>
<html><head><title>Demo Bulletin - May 2021</title><style>p { color: red }</style>
<script>document.write("Do not index this script text.");</script></head>
<body>
<nav><ul><li><a href="/">Home Page Link</a></li><li><a href="/about">About Us</a></li></ul></nav>
<main>
<h1>Demo Bulletin</h1>
<p>The Office worked with <b>twelve</b> partners this month.</p>
<h2>Training</h2>
<p>The Centre trained 40 officers in <a href="/border">border security</a> and
   <em>customs</em> cooperation.</p>
<ul>
  <li>A workshop in Nairobi for 20 prosecutors.</li>
  <li>A webinar on <i>aviation security</i> with 55 participants.</li>
</ul>
<script>console.log("nor this one");</script>
<h2>Funding</h2>
<!-- an editorial comment that is not content -->
<p>Canada pledged $2 million to the programme.</p>
<div>Norway renewed its support for a further year.</div>
</main>
<footer>Copyright United Nations</footer>
</body></html>"""
    bulletin = parse(page, "demo.html")
    assert bulletin.title == "Demo Bulletin - May 2021"
    assert (bulletin.period, bulletin.period_start) == ("May 2021", "2021-05")
    assert [(s.title, [p.text for p in s.paragraphs]) for s in bulletin.sections] == [
        ("Demo Bulletin", ["The Office worked with twelve partners this month."]),
        ("Training", [
            "The Centre trained 40 officers in border security and customs cooperation.",
            "A workshop in Nairobi for 20 prosecutors.",
            "A webinar on aviation security with 55 participants.",
        ]),
        ("Funding", ["Canada pledged $2 million to the programme.", "Norway renewed its support for a further year."]),
    ]
    everything = " ".join(s.title for s in bulletin.sections) + " ".join(texts(bulletin))
    for hidden in ("script", "console", "Home Page", "About Us", "Copyright", "comment", "color"):
        assert hidden not in everything


def test_html_without_title_takes_its_first_h1_and_keeps_line_breaks():
    page = b"<h1>Field Report</h1><h2>Results</h2><p>1,061<br>Individuals trained</p><p>16<br>Workshops organized</p>"
    bulletin = parse(page, "field-report.htm")
    assert bulletin.title == "Field Report"
    assert [p.text for _, p in bulletin.paragraphs()] == ["1,061 Individuals trained; 16 Workshops organized"]


def test_html_inline_markup_does_not_split_words_and_nested_lists_are_bullets():
    page = (b"<html><body><h2>Partners</h2><p><b>U</b>NCCT worked&nbsp;with <a href='#'>UNODC</a>'s experts.</p>"
            b"<ul><li>Kenya<ul><li>Nairobi office</li></ul></li><li>Uganda</li></ul></body></html>")
    bulletin = parse(page, "partners.html")
    assert bulletin.title == "Partners"  # from the file name: the page states none
    assert texts(bulletin) == ["UNCCT worked with UNODC's experts.", "Kenya", "Nairobi office", "Uganda"]


# --- PDF -------------------------------------------------------------------------------------------------------

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_LATIN1 = {"▶": "", "►": "", "ı": "i", "–": "-"}


def _latin1(text: str) -> str:
    for char, replacement in _LATIN1.items():
        text = text.replace(char, replacement)
    return re.sub(r"\s+", " ", text).strip()


def _markdown_blocks(markdown: str) -> list[list[str]]:
    """The seed's blocks as a print layout shows them: the lines of each block, Markdown markup removed."""
    return [[clean_markdown(line) for line in block] for block in _blocks(markdown)]


def seed_pdf(markdown: str, font: str, *, title: str | None = "UNOCT Highlights") -> bytes:
    """The seed bulletin typeset as a print PDF: justified paragraphs that wrap, bold headings, a gap between blocks,
    blocks kept whole on a page, and the ESAAMLG paragraph cut by a page break whose footer is the "UNOCT Office
    Structure" banner and URL, the next page opening with "► Capacity Building (cont'd)"."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(18, 20, 18)
    if font == "dejavu":
        pdf.add_font("body", "", str(DEJAVU / "DejaVuSans.ttf"))
        pdf.add_font("body", "B", str(DEJAVU / "DejaVuSans-Bold.ttf"))
        family, fix = "body", (lambda s: s)
    else:
        family, fix = "helvetica", _latin1
    if title:
        pdf.set_title(title)
    pdf.add_page()
    bottom = pdf.h - 25
    headings = set(SECTION_TITLES) | {"UNOCT Office Structure"}
    for lines in _markdown_blocks(markdown):
        first = lines[0]
        if first == "UNOCT Office Structure":  # page furniture: the footer of this page
            pdf.set_y(pdf.h - 22)
            pdf.set_font(family, "B", 9)
            pdf.cell(0, 4, fix(first), new_x="LMARGIN", new_y="NEXT")
            continue
        if first.startswith("www.un.org"):
            pdf.set_font(family, "", 8)
            pdf.cell(0, 4, fix(first), new_x="LMARGIN", new_y="NEXT")
            pdf.add_page()
            continue
        heading = len(lines) == 1 and (first[0] in "▶►" or first in headings)
        pdf.set_font(family, "B" if heading else "", 12 if heading else 10)
        height = 6 if heading else 5
        needed = sum(len(pdf.multi_cell(0, height, fix(line), dry_run=True, output="LINES")) for line in lines)
        if pdf.get_y() + needed * height > bottom:
            pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, height, fix(line), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    return bytes(pdf.output())


FONTS = [
    pytest.param("dejavu", marks=pytest.mark.skipif(not (DEJAVU / "DejaVuSans.ttf").exists(), reason="no DejaVu")),
    "helvetica",
]


@pytest.fixture(scope="module", params=FONTS)
def pdf_pair(request, seed_path):
    markdown = seed_path.read_text(encoding="utf-8")
    data = seed_pdf(markdown, request.param)
    return request.param, parse(markdown.encode(), seed_path.name), parse(data, "unoct-highlights-2021-03.pdf"), data


def test_pdf_layout_is_what_the_test_means(pdf_pair):
    """The generated PDF really breaks the ESAAMLG paragraph across pages, with the banner as footer."""
    font, _, _, data = pdf_pair
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    assert len(pages) >= 3
    cut = next(i for i, text in enumerate(pages) if "prosecution in" in text and "UNOCT Office Structure" in text)
    assert "291 participants" in pages[cut + 1]
    assert "Capacity Building (cont'd)" in pages[cut + 1]
    assert ("►" in pages[cut + 1]) == (font == "dejavu")
    assert any(re.search(r"\w\n\w", text) for text in pages)  # paragraphs really wrap over several lines


def test_pdf_gives_the_same_bulletin_as_the_markdown(pdf_pair):
    font, from_markdown, from_pdf, _ = pdf_pair
    assert from_pdf.id == from_markdown.id
    assert from_pdf.title == "UNOCT Highlights"
    assert from_pdf.period == "March 2021"
    assert [s.title for s in from_pdf.sections] == SECTION_TITLES
    expected = [(s.title, [_latin1(p.text) for p in s.paragraphs]) for s in from_markdown.sections]
    got = [(s.title, [_latin1(p.text) for p in s.paragraphs]) for s in from_pdf.sections]
    uncct = SECTION_TITLES.index("UN Counter-Terrorism Centre (UNCCT)")
    assert got[uncct] == expected[uncct]
    assert got == expected
    if font == "dejavu":  # the very same text, so the very same paragraph ids and citations
        assert [p.id for _, p in from_pdf.paragraphs()] == [p.id for _, p in from_markdown.paragraphs()]


def test_pdf_rejoins_the_paragraph_cut_by_the_page_break(pdf_pair):
    _, _, from_pdf, _ = pdf_pair
    sec, paragraph = only(from_pdf, "ESAAMLG")
    assert sec.title == "UN Counter-Terrorism Centre (UNCCT)"
    assert "prosecution in countering the financing of terrorism with around 291 participants" in paragraph.text
    for text in texts(from_pdf):
        assert "Office Structure" not in text and "www.un.org" not in text


def test_pdf_title_falls_back_to_the_file_name(seed_path):
    data = seed_pdf(seed_path.read_text(encoding="utf-8"), "helvetica", title=None)
    bulletin = parse(data, "unoct-highlights-2021-03.pdf")
    assert bulletin.title == "UNOCT Highlights"
    assert bulletin.period == "March 2021"


def test_pdf_words_hyphenated_at_a_line_end_are_joined():
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for line in ["The Office supports Member States with counter-", "terrorism capacity building and",
                 "training for 40 officers."]:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.cell(0, 6, "A second paragraph follows the gap.", new_x="LMARGIN", new_y="NEXT")
    bulletin = parse(bytes(pdf.output()), "note.pdf")
    assert texts(bulletin) == [
        "The Office supports Member States with counter-terrorism capacity building and training for 40 officers.",
        "A second paragraph follows the gap.",
    ]


def test_truncated_pdf_is_refused(seed_path):
    data = seed_pdf(seed_path.read_text(encoding="utf-8"), "helvetica")
    for cut in (len(data) // 2, 400, 20):
        with pytest.raises(ParseError) as caught:
            parse(data[:cut], "broken.pdf")
        message = str(caught.value)
        assert "PDF" in message and ("truncated" in message or "damaged" in message), message


def test_pdf_without_text_is_refused():
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a drawing (as a scanned image would be): no text at all
    with pytest.raises(ParseError, match="no extractable text"):
        parse(bytes(pdf.output()), "scan.pdf")


def test_password_protected_pdf_is_refused_but_an_owner_only_lock_is_read():
    def locked(user_password: str) -> bytes:
        pdf = FPDF()
        pdf.set_encryption(owner_password="owner", user_password=user_password)
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        pdf.cell(0, 6, "Forty officers were trained in March.")
        return bytes(pdf.output())

    with pytest.raises(ParseError, match="password-protected"):
        parse(locked("secret"), "locked.pdf")
    assert texts(parse(locked(""), "readable.pdf")) == ["Forty officers were trained in March."]


def test_pdf_two_columns_are_read_one_after_the_other():
    left = ("The Centre trained forty border officers in Almaty on the use of advance passenger information and "
            "passenger name record data. (4 March)")
    right = ("The Programme delivered a national workshop in Maldives on countering the financing of terrorism "
             "for twenty prosecutors and investigators. (9 March)")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    for x, paragraph in ((15, left), (110, right)):
        pdf.set_xy(x, 30)
        pdf.multi_cell(85, 5, paragraph, new_x="LEFT", new_y="NEXT")
        pdf.ln(4)
        pdf.set_x(x)
        pdf.multi_cell(85, 5, f"Second paragraph of the column starting at {x} mm.", new_x="LEFT", new_y="NEXT")
    bulletin = parse(bytes(pdf.output()), "columns.pdf")
    assert texts(bulletin) == [
        left, "Second paragraph of the column starting at 15 mm.",
        right, "Second paragraph of the column starting at 110 mm.",
    ]


# --- limits and the type decision (issue 13) --------------------------------------------------------------------

def test_a_page_tree_naming_one_page_again_and_again_is_refused_before_it_is_read():
    from tests.conftest import page_tree_bomb
    from index.parse import LimitExceeded, Limits

    with pytest.raises(LimitExceeded) as caught:
        parse(page_tree_bomb((30, 30, 10, 10)), "bomb.pdf")  # 1.4 KB, 90,000 pages
    assert caught.value.what == "pages" and caught.value.maximum == Limits().pages
    small = parse(page_tree_bomb((3, 3)), "nine.pdf", limits=Limits(pages=9))
    assert sum(len(s.paragraphs) for s in small.sections) == 9
    with pytest.raises(LimitExceeded, match="pages"):
        parse(page_tree_bomb((3, 3)), "nine.pdf", limits=Limits(pages=8))


@pytest.mark.parametrize("limits, what", [({"paragraphs": 2}, "paragraphs"), ({"chars": 100}, "chars")])
def test_text_past_the_paragraph_or_character_limit_is_refused(limits, what):
    from index.parse import LimitExceeded, Limits

    text = "# April 2021\n\n" + "\n\n".join(f"Paragraph {i} says something about lighthouses." for i in range(3))
    with pytest.raises(LimitExceeded) as caught:
        parse(text.encode(), "april.md", limits=Limits(**limits))
    assert caught.value.what == what
    assert parse(text.encode(), "april.md", limits=Limits(paragraphs=3, chars=len(text)))


def test_limits_must_be_positive_whole_numbers():
    from index.parse import Limits

    for bad in ({"pages": 0}, {"paragraphs": -1}, {"chars": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Limits(**bad)


@pytest.mark.parametrize("name, data, suffix", [
    ("april.md", b"# April\n\n<div>raw html</div>\n\nText.", ".md"),  # the name decides, as `bqa index` reads it
    ("april.txt", b"<html><body><p>Text.</p></body></html>", ".txt"),
    ("april.bin", b"<html><body><p>Text.</p></body></html>", ".html"),  # no supported suffix: sniffed
    ("april", b"%PDF-1.7\n", ".pdf"),
    (None, b"# April\n\nText.", ".md"),
    ("april.docx", b"Plain words.", ".txt"),
])
def test_the_file_type_is_the_name_suffix_and_sniffed_only_without_one(name, data, suffix):
    from index.parse import file_suffix

    assert file_suffix(name, data) == suffix


@pytest.mark.parametrize("data", [b"\xff\xfe\x00 not utf-8", b"text with a \x00 NUL"])
def test_content_that_is_no_text_is_an_unsupported_type(data):
    from index.parse import UnsupportedType, file_suffix

    with pytest.raises(UnsupportedType):
        file_suffix("upload.bin", data)


def test_bulletin_ids_are_bounded_so_their_files_can_be_named():
    from index.parse import MAX_ID_CHARS, bulletin_id

    assert bulletin_id("a" * MAX_ID_CHARS + ".md") == "a" * MAX_ID_CHARS
    with pytest.raises(ParseError, match="too long"):
        bulletin_id("a" * (MAX_ID_CHARS + 1) + ".md")

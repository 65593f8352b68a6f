"""Typeset the fictional ICSCD bulletin (icscd-highlights-2023-q4.md beside this script) as the PDF in
bench/data/train-2/, so that the PDF reader's output is trained on too.

    .venv/bin/python bench/data/train-2-pdf/make_pdf.py

The source is plain text, one block per paragraph: ▶ banners and the masthead are set in bold, "•" items and the
figures block one per line, every other block as a wrapped paragraph; a block is never split across pages, the
way a print layout keeps short items whole. Deterministic (fixed creation date), so a rerun gives the same file.
DejaVu Sans is the font (Debian fonts-dejavu-core): the text uses ▶, – and accented names.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from fpdf import FPDF

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "icscd-highlights-2023-q4.md"
TARGET = HERE.parent / "train-2" / "icscd-highlights-2023-q4.pdf"
FONTS = Path("/usr/share/fonts/truetype/dejavu")
CREATED = datetime.datetime(2024, 1, 15, tzinfo=datetime.timezone.utc)  # the issue date of the fictional bulletin


def blocks(text: str) -> tuple[str, list[list[str]]]:
    """The source's comment line (kept as the PDF's subject) and its blocks of lines."""
    comment, _, body = text.partition("-->")
    return comment.removeprefix("<!--").strip(), [b.splitlines() for b in body.strip().split("\n\n")]


def typeset(text: str) -> bytes:
    subject, parts = blocks(text)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 20, 20)
    pdf.set_creation_date(CREATED)
    pdf.set_title("ICSCD Quarterly Highlights")
    pdf.set_subject(subject)
    pdf.add_font("body", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("body", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    for number, lines in enumerate(parts):
        masthead = number == 0
        heading = masthead or (len(lines) == 1 and lines[0].startswith("▶"))
        size, height = (16, 8) if masthead else (12, 6) if heading else (10, 5)
        pdf.set_font("body", "B" if heading else "", size)
        needed = sum(len(pdf.multi_cell(0, height, line, dry_run=True, output="LINES")) for line in lines)
        if pdf.get_y() + needed * height > pdf.h - 25:
            pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, height, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    return bytes(pdf.output())


if __name__ == "__main__":
    TARGET.write_bytes(typeset(SOURCE.read_text(encoding="utf-8")))
    print(f"wrote {TARGET}")

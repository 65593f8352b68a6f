"""Parse a bulletin file into sections and paragraphs with stable ids.

Bulletins arrive as Markdown, plain text, HTML or PDF, often converted from a two-column print layout: headings
are ▶ banners or short title lines rather than Markdown, paragraphs break across pages, and page furniture (a
banner title, a lone URL) sits between the two halves of a paragraph. Every reader turns its format into plain
lines; one structure pass then finds sections, repairs broken paragraphs and drops the furniture.
"""

from __future__ import annotations

from collections import Counter
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from index import periods
from index.text import clean_markdown, fold

FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html", ".htm": "html", ".pdf": "pdf"}
# Ids name files (`<id>.<suffix>`, and `.<id>.<suffix>.uploading` while one is published) within the 255 bytes a
# file name may take, and they appear in every citation URL.
MAX_ID_CHARS = 200
# pypdf counts every node of a page tree as an entry; a tree needs fewer than one inner node per page, so twice the
# page limit stops a tree that repeats one page without cutting short any real document.
PAGE_TREE_ENTRIES_PER_PAGE = 2
_HTML_START = re.compile(rb"<(?:!doctype html|html|head|body|p|h[1-6]|div|ul|table)\b", re.I)
_MARKDOWN_SYNTAX = re.compile(r"^(?:#{1,6}\s|\s*[-*+]\s|\s*\d+\.\s)|\[[^\]]+\]\([^)]*\)|\*\*[^*]+\*\*", re.M)


class ParseError(ValueError):
    """The file cannot be read as a bulletin; the message says why, for the person who supplied it."""


class UnsupportedType(ParseError):
    """The content is none of the formats bqa reads, or not the one its name says."""


class LimitExceeded(ParseError):
    """The bulletin expands past one of its `Limits`: `what` ("pages", "paragraphs", "chars") and the maximum."""

    def __init__(self, what: str, maximum: int, found: int | None = None):
        counted = f" ({found:,})" if found is not None else ""
        super().__init__(f"the bulletin has more {_UNITS[what]} than the {maximum:,} allowed{counted}")
        self.what, self.maximum = what, maximum


_UNITS = {"pages": "pages", "paragraphs": "paragraphs", "chars": "characters of text"}


@dataclass(frozen=True)
class Limits:
    """How far one bulletin may expand. A small file can describe a huge document (a 1.3 KB PDF whose page tree
    names one page 90,000 times), and indexing, memory and the source view all grow with what it expands to."""

    pages: int = 2_000  # a thick annual report has a few hundred
    paragraphs: int = 20_000  # a 3,000-paragraph bulletin is already a large one
    chars: int = 5_000_000  # of extracted text: about 2,000 pages of prose

    def __post_init__(self):
        for name in ("pages", "paragraphs", "chars"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"Limits.{name} must be a whole number of at least 1, not {value!r}")


@dataclass(frozen=True)
class Paragraph:
    id: str
    text: str
    ordinal: int  # 1-based position within its section, the "¶n" people see


@dataclass
class Section:
    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    parent: str | None = None  # the ▶ / Markdown heading it sits under, used to resume "(cont'd)" sections


@dataclass
class Bulletin:
    id: str
    title: str
    period: str | None  # as a reader would write it: "March 2021", "Jan-Mar 2021"
    period_start: str | None  # "2021-03", for range filters
    period_end: str | None
    source: str
    sha256: str
    sections: list[Section]

    def paragraphs(self):
        for section in self.sections:
            for paragraph in section.paragraphs:
                yield section, paragraph


def bulletin_id(name: str) -> str:
    """The id a file name gives a bulletin: its stem, lower-cased, with anything but [a-z0-9-_] made a dash."""
    stem = Path(name).stem.lower()
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-")
    if not slug:
        raise ParseError(f"cannot derive a bulletin id from the file name {name!r}")
    if len(slug) > MAX_ID_CHARS:
        raise ParseError(f"the file name {name[:40]!r}… is too long: a bulletin id has at most {MAX_ID_CHARS} characters")
    return slug


def file_suffix(name: str | None, data: bytes) -> str:
    """The format of a bulletin file, as its suffix in FORMATS: the name's own suffix when it is a supported one,
    else sniffed from the content. The one decision for `bqa index` (which reads only supported suffixes) and for
    uploads: sniffing a Markdown file first made its raw HTML blocks turn it into an HTML page."""
    suffix = Path(name or "").suffix.lower()
    if suffix in FORMATS:
        return suffix
    if data.lstrip()[:5] == b"%PDF-":
        return ".pdf"
    if _HTML_START.search(data[:4096]):
        return ".html"
    text = _decode(data)
    if "\x00" in text:
        raise UnsupportedType("the file holds binary data, not text")
    return ".md" if _MARKDOWN_SYNTAX.search(text) else ".txt"


def load(path: str | Path, limits: Limits = Limits()) -> Bulletin:
    path = Path(path)
    return parse(path.read_bytes(), path.name, source=str(path), limits=limits)


def parse(data: bytes, name: str, *, source: str | None = None, limits: Limits = Limits()) -> Bulletin:
    """Parse the bytes of one bulletin file; `name` gives its id and, by its suffix, its format."""
    kind = FORMATS.get(Path(name).suffix.lower())
    if kind is None:
        raise ParseError(f"unsupported file type {Path(name).suffix or '(none)'}; use one of {sorted(FORMATS)}")
    text, title_hint = _read_pdf(data, limits.pages) if kind == "pdf" else _READERS[kind](data)
    if len(text) > limits.chars:
        raise LimitExceeded("chars", limits.chars, len(text))
    sections = _structure(text, bulletin_id(name))
    if not sections:
        raise ParseError(f"{name}: no text found")
    paragraphs = sum(len(section.paragraphs) for section in sections)
    if paragraphs > limits.paragraphs:
        raise LimitExceeded("paragraphs", limits.paragraphs, paragraphs)
    title = title_hint or _title_from_name(name, text)
    period = _period(title_hint or "") or _period(Path(name).stem) or _period("\n".join(text.splitlines()[:20]))
    return Bulletin(
        id=bulletin_id(name),
        title=title,
        period=period[0] if period else None,
        period_start=period[1] if period else None,
        period_end=period[2] if period else None,
        source=source or name,
        sha256=hashlib.sha256(data).hexdigest(),
        sections=sections,
    )


# --- readers: bytes -> (plain lines with blank lines between blocks, title if the format states one) ---------


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedType(f"not UTF-8 text (byte {exc.start})") from None


# An HTML comment, which Markdown renders as nothing (an editor's note, a licence line), and a fenced code block,
# inside which the same characters are text: matched together so a comment is only removed outside code.
_MARKDOWN_COMMENT = re.compile(r"(^(`{3,}|~{3,})[^\n]*\n.*?(?:^\2[ \t]*$|\Z))|<!--.*?(?:-->|\Z)", re.M | re.S)


def _read_markdown(data: bytes) -> tuple[str, str | None]:
    text = _MARKDOWN_COMMENT.sub(lambda m: m.group(1) or "", _decode(data))
    h1 = re.search(r"^#\s+(.+)$", text, re.M)
    return text, (clean_markdown(h1.group(1)) if h1 else None)


def _read_text(data: bytes) -> tuple[str, str | None]:
    return _decode(data), None


# Elements that start a new block of text; everything else (a, b, span, em, …) flows inside the current one.
_HTML_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details div dl dt fieldset figcaption figure form h1 h2 h3 h4 "
    "h5 h6 hr li main ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
_HTML_SKIP = ["script", "style", "noscript", "template", "nav", "header", "footer", "head", "title", "svg", "button"]


def _read_html(data: bytes) -> tuple[str, str | None]:
    """Blocks of the page body in document order: headings as Markdown headings, list items as "- " bullets,
    a <br> as a line break inside its block; scripts, styles and navigation left out."""
    from bs4 import BeautifulSoup  # here, like pypdf: only HTML bulletins need it, not every start
    from bs4.element import NavigableString, Tag

    soup = BeautifulSoup(data, "html.parser")
    title_tag = next((t for t in soup.find_all("title") if not t.find_parent("svg")), None)
    title = (title_tag.get_text(" ", strip=True) or None) if title_tag else None
    for tag in soup(_HTML_SKIP):
        tag.decompose()
    blocks: list[str] = []
    buffer: list[str] = []
    open_items: list[list[bool]] = []  # per enclosing <li>: [whether it has produced its first block yet]

    def flush(kind: str) -> None:
        text = "\n".join(re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in "".join(buffer).split("\n"))
        text = re.sub(r"\n{2,}", "\n", text).strip()
        buffer.clear()
        if not text:
            return
        if kind[0] == "h" and kind[1:].isdigit():
            blocks.append("#" * int(kind[1]) + " " + text.replace("\n", " "))
            return
        if kind == "pre":
            blocks.append(text)
            return
        if open_items and not open_items[-1][0]:
            open_items[-1][0] = True
            text = "- " + text
        blocks.append(text)

    # Depth-first over the tree with an explicit stack: deeply nested markup must not exhaust Python's recursion.
    root = soup.body or soup
    stack = [(child, "div", False) for child in reversed(list(root.children))]  # (node, block kind, leaving)
    while stack:
        node, kind, leaving = stack.pop()
        if leaving:  # the end of a block element
            flush(node.name)
            if node.name == "li":
                open_items.pop()
        elif isinstance(node, NavigableString):
            if type(node) is NavigableString:  # not a comment, doctype or CDATA
                buffer.append(str(node) if kind == "pre" else re.sub(r"\s+", " ", str(node)))
        elif isinstance(node, Tag):
            if node.name == "br":
                buffer.append("\n")
                continue
            inner = kind
            if node.name in _HTML_BLOCKS:
                flush(kind)
                if node.name == "li":
                    open_items.append([False])
                stack.append((node, kind, True))
                inner = node.name if node.name != "body" else kind
            stack.extend((child, inner, False) for child in reversed(list(node.children)))

    flush("div")
    if title is None:  # no <title>: the first top-level heading names the page
        title = next((block[2:] for block in blocks if block.startswith("# ")), None)
    return "\n\n".join(blocks), title


def _read_pdf(data: bytes, max_pages: int) -> tuple[str, str | None]:
    """Lines of text in reading order, a blank line wherever the page leaves a vertical gap (between paragraphs,
    around headings, at a column or page break), and words hyphenated across a line break joined again.

    The page tree is walked under a bound on its entries, so a tree naming one page a million times costs no
    more than `max_pages` real pages before it is refused."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PyPdfError

    if data.lstrip()[:5] != b"%PDF-":
        raise UnsupportedType("not a PDF file (it does not start with %PDF-)")
    damaged = (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, NotImplementedError,
               RecursionError, ZeroDivisionError)
    try:
        with apply_configuration(page_tree_maximum_entries=PAGE_TREE_ENTRIES_PER_PAGE * max_pages):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except damaged:
                    opened = False
                if not opened:
                    raise ParseError("the PDF is password-protected; supply an unencrypted copy")
            try:
                pages = len(reader.pages)
            except LimitReachedError:
                raise LimitExceeded("pages", max_pages) from None
            if pages > max_pages:
                raise LimitExceeded("pages", max_pages, pages)
            page_lines = [_pdf_lines(page) for page in reader.pages]
            metadata = reader.metadata
            title = metadata.get("/Title") if metadata else None
    except ParseError:
        raise
    except damaged as exc:
        raise ParseError(f"not a readable PDF, the file is damaged or truncated ({type(exc).__name__}: {exc})") from None
    if not page_lines:
        raise ParseError("the PDF has no pages (is the file truncated?)")
    if not any(page_lines):
        raise ParseError("the PDF holds no extractable text (scanned images need OCR first)")
    pitch = _line_pitch(page_lines)
    text = "\n\n".join("\n".join(_pdf_blocks(lines, pitch)) for lines in page_lines if lines)
    return text, (str(title).strip() or None) if title else None


@dataclass
class _PdfLine:
    text: str
    x: float  # where the line starts, in page space
    y: float  # its baseline (up is larger)
    size: float  # rendered font size
    upright: bool
    bold: bool | None  # None when the line mixes bold and regular text


_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.I)


def _pdf_lines(page) -> list[_PdfLine]:
    """The lines of one page in content-stream order, as pypdf's plain extraction breaks them."""
    lines: list[_PdfLine] = []
    current: _PdfLine | None = None

    def visit(text, cm, tm, font, size):
        nonlocal current
        if not text:
            return
        m = [  # tm x cm: text space to page space
            tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3],
            tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3],
            tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5],
        ]
        rendered = abs(size or 0) * ((m[2] ** 2 + m[3] ** 2) ** 0.5) or 1.0
        bold = bool(_BOLD_FONT.search(str((font or {}).get("/BaseFont", ""))))
        for i, part in enumerate(text.split("\n")):
            if i:
                current = None
            if current is None:
                if not part.strip():
                    continue
                current = _PdfLine(part, m[4], m[5], rendered, abs(m[1]) < 1e-6 and m[3] > 0, bold)
                lines.append(current)
            else:
                current.text += part
                if part.strip():
                    current.size = max(current.size, rendered)
                    current.bold = current.bold if bold == current.bold else None

    page.extract_text(visitor_text=visit)
    for line in lines:
        line.text = re.sub(r"\s+", " ", line.text).strip()
    return [line for line in lines if line.text]


def _pdf_blocks(lines: list[_PdfLine], pitch: float) -> list[str]:
    """The page's text: a line wrapped onto the next one joined to it, and "" wherever a vertical gap (more than
    `pitch` font sizes allow), a change of font size or weight, or a jump up the page (a new column) separates
    two lines. A line that ends short of its column's width (a label above its value, the last line of a list
    item) keeps its line break."""
    out = [lines[0].text]
    for previous, line in zip(lines, lines[1:]):
        drop = previous.y - line.y
        size = max(previous.size, line.size)
        same_size = abs(previous.size - line.size) <= 0.15 * size
        # a bold line next to a regular one is a heading or a banner (a line mixing both, say a bold lead-in, is not)
        same_style = previous.bold is None or line.bold is None or previous.bold == line.bold
        if not (previous.upright and line.upright and same_size and same_style and 0 < drop <= pitch * 1.3 * size):
            out += ["", line.text]
        elif _wrapped(previous, line, lines):
            hyphenated = re.search(r"[^\W\d_]-$", out[-1]) and line.text[:1].isalpha()  # "counter-" "terrorism"
            out[-1] += ("" if hyphenated else " ") + line.text
        else:
            out.append(line.text)
    return out


def _wrapped(previous: _PdfLine, line: _PdfLine, page: list[_PdfLine]) -> bool:
    """Whether `line` goes on the sentence of `previous` because the first word of `line` did not fit on it: the
    two lines together overflow what the column holds. Widths are counted in characters, the column's width
    being its longest line of that size."""
    if _BULLET.match(line.text):
        return False
    column = [
        other for other in page
        if abs(other.x - previous.x) <= 4 * previous.size and abs(other.size - previous.size) <= 0.15 * previous.size
    ]
    width = max(len(other.text) for other in column)
    return len(previous.text) + 1 + len(line.text.split()[0]) >= 0.85 * width


def _line_pitch(pages: list[list[_PdfLine]]) -> float:
    """The usual baseline distance between two lines of one paragraph in this document, in font sizes."""
    ratios = [
        round((a.y - b.y) / max(a.size, b.size) / 0.05) * 0.05
        for lines in pages
        for a, b in zip(lines, lines[1:])
        if a.upright and b.upright and abs(a.size - b.size) <= 0.15 * max(a.size, b.size)
    ]
    ratios = [r for r in ratios if 0.9 <= r <= 1.8]
    if not ratios:
        return 1.25
    counts = {r: ratios.count(r) for r in ratios}
    return max(sorted(counts), key=lambda r: counts[r])  # the most common; the tightest on a tie


_READERS = {"markdown": _read_markdown, "text": _read_text, "html": _read_html}  # and _read_pdf, which is bounded


# --- structure ----------------------------------------------------------------------------------------------

_URL_LINE = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_BANNER = re.compile(r"^[▶►▸▷]\s*(.+)$")
_BULLET = re.compile(r"^(?:[-*+•▪◦]|\*\*|\d+[.)])\s+(?:[▶►▸▷]\s*)?(.*)$")
_CONTD = re.compile(r"\s*\((?:cont(?:'|’)?d|continued)\.?\)\s*$", re.I)
_TERMINAL = re.compile(r"[.!?:;)\"”’»]$")
_MINOR = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with", "&", "-"}


def _is_title_line(line: str) -> bool:
    """A short standalone line in title case, such as "Special Projects & Innovation Branch (SPIB)"."""
    words = line.split()
    if not words or len(line) > 80 or len(words) > 12 or line[-1] in ".,;:!?" or not line[0].isupper():
        return False
    significant = [w for w in words if w.lower() not in _MINOR]
    capitalised = [w for w in significant if w[0].isupper() or w[0].isdigit() or w[0] in "(&"]
    return bool(significant) and len(capitalised) >= 0.75 * len(significant)


def _is_short_label(line: str) -> bool:
    return len(line) <= 90 and not line.endswith(".") and not _BULLET.match(line)


def _pair_text(label: str, value: str) -> str:
    """One readable line from a label/value block: "1,061 Individuals trained", "Pillar I: Addressing …"."""
    if re.fullmatch(r"[\d.,%$€£+~ ]+", label):
        return f"{label} {value}"
    return f"{label}: {value}"


def _blocks(text: str) -> list[list[str]]:
    blocks, current = [], []
    for raw in text.splitlines():
        line = raw.strip()
        if line:
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _classify(lines: list[str]) -> tuple[str, object]:
    """("heading", (level, title)) | ("furniture", None) | ("bullets", [texts]) | ("pair", text) | ("text", text)."""
    if len(lines) == 1:
        line = lines[0]
        if _URL_LINE.match(line):
            return "furniture", None
        if m := _MD_HEADING.match(line):
            return "heading", (len(m.group(1)), clean_markdown(m.group(2)))
        if m := _BANNER.match(line):
            if len(line) <= 100 and not line.endswith("."):
                return "heading", (1, clean_markdown(m.group(1)))
        elif _is_title_line(clean_markdown(line)):
            return "heading", (7, clean_markdown(line))
    if _BULLET.match(lines[0]):
        items: list[str] = []
        for line in lines:
            m = _BULLET.match(line)
            if m:
                items.append(m.group(1))
            else:
                items[-1] += " " + line
        return "bullets", [clean_markdown(item) for item in items]
    if len(lines) == 2 and all(_is_short_label(line) for line in lines):
        return "pair", _pair_text(clean_markdown(lines[0]), clean_markdown(lines[1]))
    return "text", clean_markdown(" ".join(lines))


def _continues(previous: str, following: str) -> bool:
    """Whether `following` is the second half of `previous`, split by a page or column break."""
    if _TERMINAL.search(previous):
        return False
    return following[:1].islower() or previous.endswith((",", "–", "-", "—"))


@dataclass
class _Draft:
    """A section while its text is still being read: paragraph texts, which a page break may yet extend."""

    title: str
    parent: str | None
    texts: list[str] = field(default_factory=list)


def _structure(text: str, bulletin: str) -> list[Section]:
    sections: list[_Draft] = []
    current: _Draft | None = None
    top: str | None = None  # the latest level-1 heading
    dangling: tuple[_Draft, int] | None = None  # (section, index) of a paragraph that stops mid-sentence
    pending_pairs: list[str] = []

    def start(title: str) -> _Draft:
        section = _Draft(title=title, parent=top)
        sections.append(section)
        return section

    def add(texts: list[str], may_continue: bool = True) -> None:
        """Append paragraphs; a text block may be the second half of a paragraph a break cut, a bullet never."""
        nonlocal current, dangling
        for piece in texts:
            piece = piece.strip()
            if not piece:
                continue
            if may_continue and dangling and _continues(dangling[0].texts[dangling[1]], piece):
                dangling[0].texts[dangling[1]] += " " + piece
                current = dangling[0]
            else:
                if current is None:
                    current = start("Introduction")
                current.texts.append(piece)
                dangling = (current, len(current.texts) - 1)

    def flush_pairs() -> None:
        if pending_pairs:
            add(["; ".join(pending_pairs)])
            pending_pairs.clear()

    for lines in _blocks(text):
        kind, value = _classify(lines)
        if kind != "pair":
            flush_pairs()
        if kind == "furniture":
            continue
        if kind == "heading":
            level, title = value  # type: ignore[misc]
            base = _CONTD.sub("", title).strip()
            if base != title:  # "(cont'd)": the section it names goes on
                resumed = next((s for s in reversed(sections) if base in (s.title, s.parent) and s.texts), None)
                current = resumed if resumed is not None else start(base)
                continue
            current = start(title)
            if level < 7:
                top = title
            continue
        if kind == "pair":
            pending_pairs.append(value)  # type: ignore[arg-type]
        else:
            add(value if kind == "bullets" else [value], may_continue=kind != "bullets")  # type: ignore[list-item]
    flush_pairs()
    repeats: Counter = Counter()  # across the bulletin: ids must be unique in it, not only in a section
    return [_with_ids(section, bulletin, repeats) for section in sections if section.texts]


def _with_ids(section: _Draft, bulletin: str, repeats: Counter) -> Section:
    """The section with Paragraphs whose ids hash their content, so they survive edits elsewhere."""
    paragraphs = []
    for ordinal, text in enumerate(section.texts, start=1):
        digest = hashlib.sha1(f"{bulletin}\x00{section.title}\x00{text}".encode()).hexdigest()[:10]
        repeats[digest] += 1  # the same text again (in this section or one of the same title): number it
        pid = f"p-{digest}" if repeats[digest] == 1 else f"p-{digest}-{repeats[digest]}"
        paragraphs.append(Paragraph(id=pid, text=text, ordinal=ordinal))
    return Section(title=section.title, paragraphs=paragraphs, parent=section.parent)


# --- title and period -----------------------------------------------------------------------------------------

_NUMERIC = re.compile(r"(?<!\d)(\d{4})[-_.](\d{2})(?!\d)")  # a date in a file name, left out of its title


def _period(text: str) -> tuple[str, str, str] | None:
    """(label, start "YYYY-MM", end "YYYY-MM") of the period `text` says a bulletin covers (`periods.covered`)."""
    span = periods.covered(text)
    if span is None:
        return None
    start, end = span
    return periods.label(start, end), periods.month_text(start), periods.month_text(end)


def _title_from_name(name: str, text: str) -> str:
    """ "unoct-highlights-2021-03.md" -> "UNOCT Highlights": acronyms spelled as the text spells them."""
    stem = _NUMERIC.sub(" ", Path(name).stem)
    words = [w for w in re.split(r"[-_\s]+", stem) if w and not w.isdigit()]
    upper = set(re.findall(r"\b[A-Z]{2,}\b", text))
    titled = [w.upper() if w.upper() in upper else w.capitalize() for w in words]
    return " ".join(titled) or fold(Path(name).stem)

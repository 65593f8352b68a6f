"""The period a question names ("in March 2021", "last month", "in the latest bulletin") as a range of months.

Bulletins are monthly, so "what happened in March 2021?" is a question about the bulletins of March 2021, and the
answer should come from them rather than from whichever month's paragraph happens to rank first. This is a small
general reader of dates and relative periods, not a list of phrasings: month names (full or abbreviated) with or
without a year, numeric months (2021-03, 03/2021), years, quarters, ranges (January to March 2021, Jan-Mar 2021),
"N months ago", "the last N months", this/last month and year, and the latest or previous bulletin.

Relative periods are read against the newest period indexed, never the clock: an archive of 2021 bulletins read in
2025 still answers "last month" from its newest bulletin. A monthly bulletin is read in the month after the one it
covers, so "now" is the month after the newest period: "last month" is the newest period, "two months ago" the one
before it, "this month" (which no bulletin covers yet) the newest. A month without a year is the latest such month
not after the newest period. A month name alone narrows only after a preposition ("in may", "during March"), since
"may" and "march" are also common words.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from typing import Iterable

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"((?:19|20)\d{2})"
_NUMBERS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_COUNT = r"(\d{1,2}|" + "|".join(_NUMBERS) + r")"
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": 4}
_PREPOSITION = r"(?:in|during|for|of|from|since|throughout|over|about|on|by)"
_BULLETIN = r"(?:bulletins?|issues?|editions?|newsletters?|reports?|updates?|highlights|numbers?|months?|ones?)"
_LEAD_IN = re.compile(rf"[,;]?\s*\b{_PREPOSITION}?(?:\s+the)?\s*$", re.I)

# Each phrasing of a period is spelled once, for `find_period` and `stated`: they differ in what may stand around it.
_DAYS = r"\d{1,2}(?:\s*[-–]\s*\d{1,2})?"  # "30 June", "12-14 February"
_MONTH_YEAR = rf"{_MONTH}\s*(?:of\s+|,\s*)?{_YEAR}\b"  # "March 2021", "mar. 2021", "March of 2021"
_IN_MONTH = rf"\b{_PREPOSITION}\s+(?:the\s+month\s+of\s+)?"  # what lets a month alone date: "in may"
_Q_NUMBER = r"\bq([1-4])"
_NTH_QUARTER = rf"\b({'|'.join(_ORDINALS)})\s+quarter"
_OF_YEAR = rf"(?:of\s+)?{_YEAR}\b"  # after a quarter
_THIS_YEAR = r"\b(?:this|current)\s+year\b"
_LAST_YEAR = r"\b(?:last|previous|past)\s+year\b|\ba\s+year\s+ago\b"
_LAST_MONTH = r"\b(?:last|past|previous)\s+month\b"
# What makes a period the one a question compares with, not the one it asks about: "than in 2020", "compared with
# last year", "versus March".
_COMPARED = re.compile(r"\b(?:than|compared\s+(?:to|with)|versus|vs\.?|relative\s+to)\s+(?:in\s+)?(?:the\s+)?$",
                       re.I)
# Meteorological seasons of the northern hemisphere, by their first month: a seasonal newsletter ("Spring 2025")
# covers those three months; winter starts in the December before the year it names ("Winter 2025", "Winter 2024/25").
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_SEASON = rf"\b({'|'.join(_SEASONS)})\s+{_YEAR}(?:\s*[-/–]\s*((?:19|20)?\d{{2}}))?\b"
_YEAR_QUARTER = rf"{_YEAR}\s*[-_ ]\s*q([1-4])\b"  # "2025-q3", "2025 Q3": a file name's order


def _month_range(joins: str) -> str:
    """ "Jan-Mar 2021", "December 2020 to February 2021": groups first month, its year or None, last month, year."""
    return rf"{_MONTH}\s*{_YEAR}?\s*(?:-|–|—|/|to|until|through{joins})\s*{_MONTH}\s*{_YEAR}\b"


@dataclass(frozen=True)
class Period:
    start: str  # "YYYY-MM", inclusive
    end: str
    phrase: str  # the words of the question that name it
    span: tuple[int, int]  # where they stand in the question, in characters

    def strip(self, question: str) -> str:
        """The question without the words that name the period (and the "in the" before them): once the period
        is a filter, "January" would only favour the sentences that happen to say the month. A question that
        is nothing but its period stays as it is."""
        start, end = self.span
        before = _LEAD_IN.search(question[:start])
        if before:
            start = before.start()
        rest = re.sub(r"\s+([?.!,;:])", r"\1", f"{question[:start]} {question[end:]}")
        rest = re.sub(r"([,;:])[,;:]+", r"\1", re.sub(r"\s{2,}", " ", rest)).strip(" ,;:")
        return rest if _find(r"\w{3}", rest) else question


def month_index(text: str) -> int:
    """ "2021-03" -> 24255 (months since year 0), so months can be counted and compared."""
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


def month_text(index: int) -> str:
    year, month = divmod(index, 12)
    return f"{year:04d}-{month + 1:02d}"


def _find(pattern: str, text: str) -> re.Match | None:
    return re.search(pattern, text, re.I)


def _month_of(token: str) -> int:
    return _MONTHS[token.lower().rstrip(".")]


def find_period(question: str, indexed: Iterable[tuple[str, str]]) -> Period | None:
    """The period `question` names, resolved against the (start, end) "YYYY-MM" periods of the indexed bulletins,
    or None when it names none, when none of the bulletins falls in it (the words may then be about events a
    bulletin of another month reports) or when all of them do: nothing would be narrowed."""
    spans = sorted({(month_index(s), month_index(e)) for s, e in indexed if s and e})
    if not spans:
        return None
    newest = max(end for _, end in spans)
    found = _read(question, newest, spans)
    if found is None:
        return None
    start, end, match = found
    end = min(end, newest)  # "this year", "since 2020": up to the newest bulletin
    if start > end or not any(s <= end and e >= start for s, e in spans):
        return None
    if all(start <= s and e <= end for s, e in spans):  # every bulletin is of that period: nothing to narrow
        return None
    return Period(month_text(start), month_text(end), match.group(0).strip(), match.span())


def _read(question: str, newest: int, spans: list[tuple[int, int]]) -> tuple[int, int, str] | None:
    """The first period the question asks about; one it only compares with ("than last year", "compared to 2020")
    is blanked out (same length, so the match's place stays right) and the question read again."""
    text = question
    now = newest + 1  # the month the newest bulletin is read in
    while True:
        found = next((f for reader in (_ranges, _quarter, _month_year, _numeric, _relative, _bulletin, _year,
                                       _month_alone) if (f := reader(text, now, newest, spans)) is not None), None)
        if found is None or not _COMPARED.search(text[: found[2].start()]):
            return found
        start, end = found[2].span()
        text = text[:start] + " " * (end - start) + text[end:]


def covered(text: str) -> tuple[int, int] | None:
    """The months a bulletin says it covers, from its title, file name or opening lines: a range of months ("Jan-Mar
    2021", "July to September 2025"), a quarter ("Q3 2025", "2025-q3", "the third quarter of 2025"), a season
    ("Spring 2025"), a month ("March 2021") or a numeric month ("2021-03", "2021_03"); whichever of these kinds
    comes first in that order, always with its year (nothing here is read against another date)."""
    text = text.replace("_", "-")
    if (m := _find(rf"\b{_month_range('')}", text)) and (span := _range_span(*m.groups(), 0)):
        return span
    if found := _quarter(text, 0, 0, []):  # its year is part of the phrase: nothing is read against `newest`
        return found[:2]
    if m := _find(_YEAR_QUARTER, text):
        return _quarter_span(m.group(2), m.group(1), 0)
    if m := _find(_SEASON, text):
        first, year, later = _SEASONS[m.group(1).lower()], int(m.group(2)), m.group(3)
        if first == 12:  # winter: the December before the year named, or the first of two years named
            year = year if later else year - 1
        start = year * 12 + first - 1
        return start, start + 2
    if found := _month_year(text, 0, 0, []):
        return found[:2]
    if m := _find(rf"(?<!\d){_YEAR}[-/.](0[1-9]|1[0-2])(?!\d)", text):
        month = _in_year(int(m.group(2)), m.group(1), 0)
        return month, month
    return None


def label(start: int, end: int) -> str:
    """How a period is shown: "March 2021", "Jan-Mar 2021", "Dec 2024-Feb 2025"."""
    (first_year, first), (last_year, last) = divmod(start, 12), divmod(end, 12)
    if start == end:
        return f"{calendar.month_name[first + 1]} {first_year}"
    if first_year == last_year:
        return f"{calendar.month_abbr[first + 1]}-{calendar.month_abbr[last + 1]} {last_year}"
    return f"{calendar.month_abbr[first + 1]} {first_year}-{calendar.month_abbr[last + 1]} {last_year}"


def _in_year(month: int, year: str | int | None, newest: int) -> int:
    """Month `month` (1-12) of `year`, or without a year the latest such month not after `newest`."""
    if year is None:
        year = newest // 12 if month - 1 <= newest % 12 else newest // 12 - 1
    return int(year) * 12 + month - 1


def _whole_year(year: int) -> tuple[int, int]:
    return year * 12, year * 12 + 11


def _range_span(first: str, first_year: str | None, last: str, last_year: str, newest: int) -> tuple[int, int] | None:
    """The months from `first` to `last`, None when backwards. A first month without a year is of the last one's
    year, or of the year before when it comes later in the year ("Nov-Jan 2021")."""
    end = _in_year(_month_of(last), last_year, newest)
    if first_year is None:
        first_year = end // 12 - 1 if _month_of(first) > _month_of(last) else end // 12
    start = _in_year(_month_of(first), first_year, newest)
    return (start, end) if start <= end else None


def _quarter_span(quarter: str, year: str | None, newest: int) -> tuple[int, int]:
    """The months of quarter "2" (or "second") of `year`, read as `_in_year` reads a month."""
    start = _in_year(3 * (int(quarter) if quarter.isdigit() else _ORDINALS[quarter.lower()]) - 2, year, newest)
    return start, start + 2


def _ranges(text, now, newest, spans):
    """ "from January to March 2021", "between jan and mar 2021", "Jan-Mar 2021", "since January", "since 2020"."""
    m = _find(rf"\b(?:from|between)?\s*{_month_range('|and|till')}", text)
    if m and (span := _range_span(*m.groups(), newest)):
        return *span, m
    if m := _find(rf"\bsince\s+{_YEAR}\b", text):
        return int(m.group(1)) * 12, newest, m
    if m := _find(rf"\bsince\s+{_MONTH}\s*{_YEAR}?\b", text):
        return _in_year(_month_of(m.group(1)), m.group(2), newest), newest, m
    return None


def _quarter(text, now, newest, spans):
    """ "Q1 2021", "the first quarter of 2021"."""
    if m := _find(rf"{_Q_NUMBER}\s*{_YEAR}\b", text) or _find(rf"{_NTH_QUARTER}\s+{_OF_YEAR}", text):
        return *_quarter_span(*m.groups(), newest), m
    return None


def _month_year(text, now, newest, spans):
    """ "March 2021", "mar. 2021", "March of 2021"."""
    if m := _find(rf"\b{_MONTH_YEAR}", text):
        month = _in_year(_month_of(m.group(1)), m.group(2), newest)
        return month, month, m
    return None


def _numeric(text, now, newest, spans):
    """ "2021-03", "2021/03", "03/2021"."""
    if m := _find(rf"(?<![\d/.-]){_YEAR}[-/](0?[1-9]|1[0-2])(?![\d/.-])", text):
        month = _in_year(int(m.group(2)), m.group(1), newest)
    elif m := _find(rf"(?<![\d/.-])(0?[1-9]|1[0-2])/{_YEAR}(?![\d/.-])", text):
        month = _in_year(int(m.group(1)), m.group(2), newest)
    else:
        return None
    return month, month, m


def _count(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBERS[token.lower()]


def _relative(text, now, newest, spans):
    """this/last/previous month, N months ago, the last/past N months, this/last year."""
    if m := _find(rf"\b{_COUNT}\s+months?\s+ago\b", text):
        month = now - _count(m.group(1))
        return month, month, m
    if m := _find(rf"\b(?:last|past|previous)\s+{_COUNT}\s+months\b", text):
        return now - _count(m.group(1)), newest, m
    if m := _find(r"\b(?:this|current)\s+month\b", text):  # no bulletin covers it yet: the newest
        return newest, newest, m
    if m := _find(rf"{_LAST_MONTH}|\ba\s+month\s+ago\b", text):
        return now - 1, now - 1, m
    if m := _find(_THIS_YEAR, text):
        return now // 12 * 12, newest, m
    if m := _find(_LAST_YEAR, text):
        return *_whole_year(now // 12 - 1), m
    return None


def _bulletin(text, now, newest, spans):
    """The latest bulletin ("the latest issue", "most recent", "recently"), or the one before it ("the previous
    bulletin"): the periods of the newest and second-newest indexed bulletins."""
    if m := _find(rf"\b(?:previous|prior|preceding|last\s+but\s+one)\s+{_BULLETIN}", text):
        earlier = sorted({end for _, end in spans if end < newest})
        if not earlier:
            return None
        start = min(s for s, e in spans if e == earlier[-1])
        return start, earlier[-1], m
    if m := _find(rf"\b(?:latest|newest|most\s+recent|current|last|this)\s+{_BULLETIN}|\b(?:latest|newest|"
                      rf"most\s+recent(?:ly)?|recently|lately)\b", text):
        start = min(s for s, e in spans if e == newest)
        return start, newest, m
    return None


def _year(text, now, newest, spans):
    """ "in 2021", "during 2020" (a bare number may be anything: a resolution, an agenda)."""
    if m := _find(rf"\b{_PREPOSITION}\s+(?:the\s+year\s+)?{_YEAR}\b(?![-/]\d)", text):
        return *_whole_year(int(m.group(1))), m
    return None


def _month_alone(text, now, newest, spans):
    """ "in March", "during may", "for jan": the latest such month not after the newest period."""
    if m := _find(rf"{_IN_MONTH}{_MONTH}(?![\w-])", text):
        month = _in_year(_month_of(m.group(1)), None, newest)
        return month, month, m
    return None


# --- every period a text states, for comparing a question's period with a sentence's ----------------------------

_STATED = re.compile("|".join(rf"(?P<{kind}>{pattern})" for kind, pattern in {
    "range": rf"\b(?:{_PREPOSITION}\s+)?{_month_range('')}",
    "quarter": rf"(?:{_Q_NUMBER}\b|(?!last\b){_NTH_QUARTER}\b)(?:\s*{_OF_YEAR})?",
    "month_year": rf"\b(?:{_PREPOSITION}\s+)?(?:{_DAYS}\s+)?{_MONTH_YEAR}",
    "last_year": _LAST_YEAR,
    "this_year": _THIS_YEAR,
    "last_month": _LAST_MONTH,
    "years": rf"(?<![$€£\d.,]){_YEAR}\s*[-–/]\s*((?:19|20)?\d{{2}})\b(?![.,]?\d)",
    "year": rf"(?<![$€£\d.,]){_YEAR}\b(?![.,]?\d)",
    "month": rf"(?:{_IN_MONTH}|\b{_DAYS}\s+){_MONTH}(?![\w-])"
             r"|\b(january|february|april|june|july|august|september|october|november|december)\b",
}.items()), re.I)


# What may stand before a year that dates something ("in 2023", "the 2022 cohort", "and 2026"); after any other
# word the year is part of a name ("Strategy 2030", "Vision 2030").
_YEAR_LEAD = re.compile(rf"(?:{_PREPOSITION}|the|and|or|to|until|till|between|than|early|late|mid|end|start)", re.I)


def stated(text: str, newest: int) -> list[tuple[int, int]]:
    """Every period `text` states, as (first, last) month indices (`month_index`): ranges, quarters (the latest
    such quarter not after `newest` when no year is given), months with or without a year, years and spans of
    years, and last/this year and last month read against `newest`, the month the text was written in or
    after. Used to tell a question about one period from a sentence about another ("in July" against "in
    August", "in 2023" against "in August 2025"), not to narrow retrieval (`find_period` does that)."""
    now = newest + 1
    found = []
    for m in _STATED.finditer(text):
        kind, groups = m.lastgroup, m.groups()[m.lastindex:]  # the phrasing that matched, and its own groups
        if kind == "range":
            span = _range_span(*groups[:4], newest)
        elif kind == "quarter":
            span = _quarter_span(groups[0] or groups[1], groups[2], newest)
        elif kind == "month_year":
            month = _in_year(_month_of(groups[0]), groups[1], newest)
            span = month, month
        elif kind == "last_year":
            span = _whole_year(now // 12 - 1)
        elif kind == "this_year":
            span = now // 12 * 12, newest
        elif kind == "last_month":
            span = now - 1, now - 1
        elif kind == "years":
            first, last = groups[:2]
            last = first[:2] + last if len(last) == 2 else last  # "2019-21"
            span = (int(first) * 12, int(last) * 12 + 11) if int(first) <= int(last) else None
        elif kind == "year":
            before = re.search(r"([A-Za-z]+)[^\w]*$", text[: m.start()])
            if before and not _YEAR_LEAD.fullmatch(before.group(1)) and text[m.start() - 1:m.start()].isspace():
                span = None  # part of a name
            elif before and before.group(1).lower() == "since":  # "since 2017": up to the text's own month
                span = int(groups[0]) * 12, newest
            else:
                span = _whole_year(int(groups[0]))
        else:
            month = _in_year(_month_of(groups[0] or groups[1]), None, newest)
            span = month, month
        if span is not None:
            found.append(span)
    return found

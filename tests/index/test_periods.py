"""Periods named in questions, read against the periods of the indexed bulletins (no index needed)."""

from __future__ import annotations

import pytest

from index.periods import covered, find_period, label, month_index, month_text, stated

MONTHS = [("2020-11", "2020-11"), ("2020-12", "2020-12"), ("2021-01", "2021-01"), ("2021-02", "2021-02"),
          ("2021-03", "2021-03")]


@pytest.mark.parametrize("question, start, end", [
    ("What happened in March 2021?", "2021-03", "2021-03"),
    ("what did unoct do in mar. 2021", "2021-03", "2021-03"),
    ("highlights of january of 2021", "2021-01", "2021-01"),
    ("anything from 2021-02?", "2021-02", "2021-02"),
    ("what was reported for 12/2020", "2020-12", "2020-12"),
    ("what happened in december?", "2020-12", "2020-12"),  # the latest December not after the newest period
    ("During February, who gave money?", "2021-02", "2021-02"),
    ("from January to March 2021, which workshops?", "2021-01", "2021-03"),
    ("Jan-Feb 2021 events", "2021-01", "2021-02"),
    ("between november and january 2021", "2020-11", "2021-01"),
    ("since January", "2021-01", "2021-03"),
    ("since 2021", "2021-01", "2021-03"),
    ("what happened in Q1 2021", "2021-01", "2021-03"),
    ("the first quarter of 2021", "2021-01", "2021-03"),
    ("what happened in 2021", "2021-01", "2021-03"),
    ("what happened last month?", "2021-03", "2021-03"),  # the newest bulletin is read the month after
    ("and this month?", "2021-03", "2021-03"),
    ("two months ago", "2021-02", "2021-02"),
    ("3 months ago", "2021-01", "2021-01"),
    ("over the past 2 months", "2021-02", "2021-03"),
    ("who funded CT Travel in the latest bulletin?", "2021-03", "2021-03"),
    ("what's the latest on CT Travel", "2021-03", "2021-03"),
    ("in the most recent issue", "2021-03", "2021-03"),
    ("and in the previous bulletin?", "2021-02", "2021-02"),
    ("what happened last year", "2020-01", "2020-12"),
    ("Two months ago, who gave money?", "2021-02", "2021-02"),  # capitals: no KeyError on the word
    ("First quarter of 2021", "2021-01", "2021-03"),
])
def test_a_period_the_question_names_is_found(question, start, end):
    period = find_period(question, MONTHS)
    assert period is not None and (period.start, period.end) == (start, end), period


@pytest.mark.parametrize("question", [
    "Who funded CT Travel?",
    "Who may apply for the programme?",  # "may" the verb
    "Which march did the delegates join?",  # "march" the noun, no preposition
    "What is resolution 2178 about?",
    "How many of the 2,000 participants were women?",
    "What happened in May 2021?",  # a month no bulletin covers
    "What happened in 2019?",
    "What happened in june?",  # the latest June is June 2020: not covered
])
def test_no_period_or_one_no_bulletin_covers_narrows_nothing(question):
    assert find_period(question, MONTHS) is None


@pytest.mark.parametrize("question, start, end", [
    ("how many more members than last year?", None, None),
    ("did the colony grow compared to last year", None, None),
    ("was it bigger in February 2021 than in January 2021?", "2021-02", "2021-02"),
    ("versus december, how many trained in february?", "2021-02", "2021-02"),
])
def test_a_period_the_question_only_compares_with_narrows_nothing(question, start, end):
    period = find_period(question, MONTHS)
    assert (period.start, period.end) == (start, end) if start else period is None, period


def test_nothing_is_narrowed_without_dated_bulletins():
    assert find_period("What happened in March 2021?", []) is None
    assert find_period("last month", [("", "")]) is None


def test_a_range_covers_bulletins_of_several_months():
    quarterly = [("2021-01", "2021-03"), ("2021-04", "2021-06")]
    assert find_period("in the latest bulletin", quarterly) is not None
    latest = find_period("in the latest bulletin", quarterly)
    assert (latest.start, latest.end) == ("2021-04", "2021-06")
    february = find_period("what happened in February 2021?", quarterly)
    assert (february.start, february.end) == ("2021-02", "2021-02")  # the quarter's bulletin covers it
    previous = find_period("in the previous issue", quarterly)
    assert (previous.start, previous.end) == ("2021-01", "2021-03")


def test_a_period_every_bulletin_is_of_narrows_nothing():
    assert find_period("Who funded CT Travel in March?", [("2021-03", "2021-03")]) is None
    assert find_period("what happened in 2021", [("2021-01", "2021-01"), ("2021-03", "2021-03")]) is None


@pytest.mark.parametrize("text, periods", [
    ("reviewed 164 applications in October", [("2025-10", "2025-10")]),
    ("in the third quarter of 2025, up from the second quarter", [("2025-07", "2025-09"), ("2025-04", "2025-06")]),
    ("Shareholders have until 30 June 2026", [("2026-06", "2026-06")]),
    ("from January to March 2021", [("2021-01", "2021-03")]),
    ("The Strategic Plan 2023–2027 has four objectives", [("2023-01", "2027-12")]),
    ("the 2022 cohort, not last year's", [("2022-01", "2022-12"), ("2024-01", "2024-12")]),
    ("Strategy 2030 was adopted", []),  # a year in a name dates nothing
])
def test_stated_reads_every_period_a_text_names_against_its_month(text, periods):
    assert [(month_text(a), month_text(b)) for a, b in stated(text, month_index("2025-11"))] == periods


@pytest.mark.parametrize("text, start, end, shown", [
    ("unoct-highlights-2021-03", "2021-03", "2021-03", "March 2021"),
    ("bulletin_2021_03", "2021-03", "2021-03", "March 2021"),
    ("Highlights, Sept. 2021", "2021-09", "2021-09", "September 2021"),
    ("UN Counter-Terrorism Centre: Jan-Mar 2021", "2021-01", "2021-03", "Jan-Mar 2021"),
    ("Quarterly Operations Report — July to September 2025", "2025-07", "2025-09", "Jul-Sep 2025"),
    ("Review, November 2020 to February 2021", "2020-11", "2021-02", "Nov 2020-Feb 2021"),
    ("Q3 2025 report", "2025-07", "2025-09", "Jul-Sep 2025"),
    ("icscd-highlights-2023-q4", "2023-10", "2023-12", "Oct-Dec 2023"),
    ("Results of the second quarter of 2024", "2024-04", "2024-06", "Apr-Jun 2024"),
    ("Wingbeat — Spring 2025", "2025-03", "2025-05", "Mar-May 2025"),
    ("Autumn 2024 newsletter", "2024-09", "2024-11", "Sep-Nov 2024"),
    ("Winter 2024/25", "2024-12", "2025-02", "Dec 2024-Feb 2025"),
    ("Winter 2025", "2024-12", "2025-02", "Dec 2024-Feb 2025"),
])
def test_the_period_a_bulletin_covers_is_read_from_its_title_or_name(text, start, end, shown):
    span = covered(text)
    assert span is not None and (month_text(span[0]), month_text(span[1])) == (start, end)
    assert label(*span) == shown


@pytest.mark.parametrize("text", ["Annual Report", "Resolution 2178 (2014)", "2021.13", "Strategy 2030 newsletter"])
def test_a_title_without_a_period_covers_none(text):
    assert covered(text) is None

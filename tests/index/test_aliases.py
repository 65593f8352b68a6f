"""Acronyms mined from the bulletins themselves, so a question may name an entity either way."""

from __future__ import annotations

import pytest

from index.aliases import Aliases, acronyms, mine
from index.parse import load

EXPECTED = {
    "CT Travel": "Countering Terrorist Travel Programme",
    "VEPs": "Violent Extremist Prisoners",
    "UNCCT": "UN Counter-Terrorism Centre",
    "ESAAMLG": "Eastern & Southern Africa Anti-Money Laundering Group",
    "SPIB": "Special Projects & Innovation Branch",
    "FATF": "Financial Action Task Force",
    "JPOA": "Joint Plan of Action",
}


@pytest.fixture(scope="module")
def seed_texts(seed_path) -> list[str]:
    bulletin = load(seed_path)
    return [s.title for s in bulletin.sections] + [p.text for _, p in bulletin.paragraphs()]


@pytest.fixture(scope="module")
def mined(seed_texts) -> dict[str, str]:
    return mine(seed_texts)


@pytest.fixture(scope="module")
def aliases(mined, seed_texts) -> Aliases:
    return Aliases(mined, acronyms(seed_texts))


def test_seed_pairs_are_mined(mined):
    for short, long in EXPECTED.items():
        assert mined.get(short) == long, short


def test_every_mined_long_form_is_written_just_before_its_short_form(mined, seed_texts):
    corpus = "\n".join(seed_texts)
    for short, long in mined.items():
        assert f"{long} ({short})" in corpus


def test_parentheses_that_are_not_acronyms_are_ignored(mined):
    for short in mined:
        assert not any(c.isdigit() for c in short)
        assert sum(c.isupper() for c in short) >= 2
    for not_an_acronym in ("i", "ii", "5 March", "3 March", "US$1,139,987", "A/74/677 and A/75/729", "cont'd"):
        assert not_an_acronym not in mined


@pytest.mark.parametrize(
    "question, other_name",
    [
        ("Who funded CT Travel?", "Countering Terrorist Travel Programme"),
        ("What did the Countering Terrorist Travel Programme do in March?", "CT Travel"),
        ("What did the VEPs project produce in Tunisia?", "Violent Extremist Prisoners"),
        ("How are violent extremist prisoners rehabilitated in Tunisia?", "VEPs"),
        ("Which workshop did ESAAMLG co-organize?", "Eastern & Southern Africa Anti-Money Laundering Group"),
        ("What did the Eastern & Southern Africa Anti-Money Laundering Group do?", "ESAAMLG"),
        ("What is UNCCT's Advisory Board?", "UN Counter-Terrorism Centre"),
        ("Who founded the UN Counter-Terrorism Centre?", "UNCCT"),
    ],
)
def test_a_question_is_expanded_with_the_other_name(aliases, question, other_name):
    expanded = aliases.expand(question)
    assert expanded.startswith(question)
    assert other_name in expanded[len(question):]


def test_a_question_naming_no_entity_is_left_alone(aliases):
    for question in ("What is the boiling point of water?", "Who travelled to Geneva?", "How many countries?"):
        assert aliases.expand(question) == question
        assert aliases.found_in(question) == []


def test_found_in_names_each_entity_once(aliases):
    found = aliases.found_in("Did CT Travel and the Countering Terrorist Travel Programme work with UNCCT?")
    assert sorted(a.short for a in found) == ["CT Travel", "UNCCT"]


def test_the_served_corpus_knows_the_seed_aliases(qa):
    corpus = qa.corpus()
    known = {a.short: a.long for a in corpus.aliases.entries}
    for short, long in EXPECTED.items():
        assert known.get(short) == long
    assert "Countering Terrorist Travel Programme" in corpus.aliases.expand("Who funded CT Travel?")


def test_short_forms_match_in_any_case_but_common_words_stay_words():
    from index.aliases import Aliases

    aliases = Aliases({"CT Travel": "Countering Terrorist Travel Programme", "WHO": "World Health Organization"})
    assert "Countering Terrorist Travel Programme" in aliases.expand("who funded ct travel?")
    assert [a.short for a in aliases.found_in("who funded ct travel?")] == ["CT Travel"]
    assert [a.short for a in aliases.found_in("What did the WHO say?")] == ["WHO"]


# The seed bulletin writes "UNOCT" and "UN" but never "Office of Counter-Terrorism (UNOCT)".
@pytest.mark.parametrize(
    "question, acronym",
    [
        ("When was the Office of Counter-Terrorism established?", "UNOCT"),  # "UN" + O, C, T
        ("When was the UN Office of Counter-Terrorism established?", "UNOCT"),
        ("When was the United Nations Office of Counter-Terrorism established?", "UNOCT"),
        ("What did the Office of the High Commissioner for Human Rights do?", "OHCHR"),  # "of the", "for" skipped
    ],
)
def test_a_name_spelling_an_acronym_the_corpus_never_defines_is_expanded_with_it(aliases, question, acronym):
    assert aliases.spelled(question) == {acronym: question[question.index(" the ") + 5 : question.rindex(" ")]}
    assert aliases.expand(question) == f"{question} ({acronym})"


def test_a_spelled_name_is_not_taken_for_a_defined_acronym(aliases):
    expanded = aliases.expand("When was the Office of Counter-Terrorism established?")
    assert "UNCCT" not in expanded and "UN Counter-Terrorism Centre" not in expanded
    assert aliases.spelled("Who founded the UN Counter-Terrorism Centre?") == {}  # UNCCT is defined: mined instead


def test_names_whose_initials_spell_no_undefined_acronym_are_left_alone(aliases):
    for question in (
        "When was the Bureau of Labour Statistics founded?",  # BLS: no acronym of the corpus ends so
        "What did the Office of Counter-Terrorism Director say?",  # OCTD: the whole name must spell it
        "Did UNOCT and the Office of Counter-Terrorism meet?",  # the question uses the acronym already
    ):
        assert aliases.spelled(question) == {}


def test_a_single_word_two_initials_or_punctuation_never_spell_an_acronym():
    aliases = Aliases({}, frozenset({"CTO", "OC", "CIK"}))
    assert aliases.spelled("Who runs the Counter-Terrorism Office?") == {"CTO": "Counter-Terrorism Office"}
    assert aliases.spelled("Who runs the Counter-Terrorism-Office?") == {}  # one word, however hyphenated
    assert aliases.spelled("What rivalry do Oxford and Cambridge have?") == {}  # two initials meet names by chance
    assert aliases.spelled("Did Canada, India and Kenya give?") == {}  # a list of names is not one name


def test_a_prefix_must_be_an_acronym_the_corpus_writes_on_its_own():
    question = "When was the Office of Counter-Terrorism established?"
    assert Aliases({}, frozenset({"XYOCT"})).spelled(question) == {}
    assert Aliases({}, frozenset({"XYOCT", "XY"})).spelled(question) == {"XYOCT": "Office of Counter-Terrorism"}


def test_the_served_corpus_reads_the_offices_long_name_as_unoct(qa):
    assert qa.corpus().aliases.expand("When was the Office of Counter-Terrorism established?").endswith("(UNOCT)")

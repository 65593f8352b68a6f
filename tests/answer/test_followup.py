"""Follow-up resolution: a standalone Question for the same scorer, never a table of phrases."""

from __future__ import annotations

from answer import Answer, Citation, Question
from answer.followup import is_follow_up, resolve, with_new_subject

DONORS = ("In March, UNOCT received a contribution from Canada (US$1,139,987) in support of the Gender and Identities "
          "Platform, and from India ($500,000) in support of the Countering Terrorist Travel Programme.")


def answered(question: str, quote: str = DONORS, pid: str = "p-donors") -> tuple[Question, Answer]:
    citation = Citation(1, "b", "Bulletin", None, "Highlights", pid, quote, DONORS, 1.0)
    return Question(question, question), Answer(f"{quote} [1]", True, 0.9, (citation,))


def test_a_question_with_its_own_subject_stands_alone():
    earlier = [answered("Who put money into the gender and identities platform?")]
    question = resolve("When was UNOCT established?", earlier)
    assert question == Question("When was UNOCT established?", "When was UNOCT established?")


def test_how_much_after_a_who_question_asks_it_of_the_same_topic_and_paragraph():
    earlier = [answered("Who put money into the gender and identities platform?")]
    question = resolve("How much?", earlier)
    assert question.asked == "How much?" and question.kind == "how_much"
    assert question.topic == "Who put money into the gender and identities platform?"
    assert question.carried == ("p-donors",)


def test_what_about_a_new_country_replaces_the_old_one_typed_in_lower_case():
    earlier = [answered("how much did canada give?")]
    question = resolve("what about india?", earlier)
    assert question.standalone == "how much did india give?"
    assert question.carried == ("p-donors",)


def test_a_new_subject_after_a_follow_up_keeps_its_ask():
    first = answered("What did Canada fund in March?")
    second = (Question("How much was it?", "How much was it?", "What did Canada fund in March?"), first[1])
    question = resolve("and India?", [first, second])
    assert question.standalone == "How much was it? [What did India fund in March?]"


def test_they_points_at_the_name_the_previous_answer_gave():
    earlier = [answered("Who funded the travel programme?", quote="from India ($500,000) in support of the "
                        "Countering Terrorist Travel Programme.")]
    question = resolve("What else did they fund?", earlier)
    assert question.topic == "Who funded the travel programme? ; India"


def test_nothing_is_carried_from_an_abstention():
    question, _ = answered("Who funded the Doha Hub?")
    question = resolve("How much?", [(question, Answer("The bulletins don't say.", False, 0.1))])
    assert question.carried == () and question.topic == "Who funded the Doha Hub?"


def test_new_subjects_of_each_kind():
    assert with_new_subject("What did Canada fund in March?", "in April") == "What did Canada fund in April?"
    assert (with_new_subject("How many participants did the ESAAMLG workshop have?", "the Boko Haram consultation")
            .startswith("How many participants did the Boko Haram consultation"))


def test_what_counts_as_a_follow_up():
    assert is_follow_up("How much?") and is_follow_up("what about india?") and is_follow_up("Who organised it?")
    assert is_follow_up("how many people attended") and is_follow_up("when was that?")
    assert not is_follow_up("Who organised the biometrics panel for UNCCT?")
    assert not is_follow_up("What is the boiling point of water at sea level?")


def test_a_stored_turn_reads_back_as_the_same_question():
    question = Question("How much was it?", "How much was it?", "What did Canada fund in March?")
    assert Question.parse(question.text, question.standalone) == question

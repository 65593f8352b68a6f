"""The optional LLM answerer: fluent answers from an OpenAI-compatible server, kept only as far as the passages
bear them out.

The extractive answer is always computed first (it costs milliseconds) because it is what users get whenever the
model is no help: the server is down, slow (past `BQA_LLM_TIMEOUT`), answers 5xx or something unreadable; the
model refuses although the bulletins answer (a false refusal); the citation check (`answer.verify`) removes
every sentence it wrote; or what is left says less than the extractive answer (`answer.completeness`: three of
four pillars, an amount without what it paid for). The model can therefore only make an answer better, never
less trustworthy or less complete.

The model's reply is read as it is written (llama-index's `stream_chat`), and each sentence is checked as soon as
it is finished, so a client can show it while the model writes the next one (`LLMAnswerer.stream`). Nothing
shown is ever taken back: checked sentences wait until those kept so far cite a passage that answers the question
and say all that the extractive answer says. Both only grow as sentences are added, so from then on the final
answer is exactly the sentences shown, and every later one is shown as soon as it passes. A sentence that fails is
never shown. Usually the first sentence already qualifies, and reaches the user in about the time the model takes
to write it.

The model is reached through llama-index's OpenAI-compatible integration (`llama-index-llms-openai-like`), so a
hosted API, vLLM, Ollama or a llama.cpp server all work. `BQA_LLM_TIMEOUT` bounds both the wait for each piece of
the reply and the whole reply. After a failed call the model is left alone for `COOLDOWN` seconds: a server that
is down would otherwise cost every user the whole timeout before the fallback. A reply that breaks off keeps its
finished sentences (their fate is decided as for a whole reply) and loses the unfinished one.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import closing
from dataclasses import replace
from typing import Generator, Iterator

from llama_index.core.llms import ChatMessage
from llama_index.core.schema import NodeWithScore

from index.retrieve import Corpus
from index.text import terms
from answer.completeness import omissions
from answer.decide import citation_for
from answer.prompts import count_message_tokens, count_tokens, render, truncate
from answer.types import Answer, Question
from answer.verify import MARKER, Checked, Checker, Passage, Sentence, Verdict, names, numbers, refs, split_streamed

log = logging.getLogger(__name__)

# Token budgets, counted with cl100k_base: a llama.cpp server's default 2048-token window holds the prompt, its
# worked examples and the answer, with a margin for the served model's own tokenizer counting differently.
PROMPT_TOKENS = 1400
PASSAGE_TOKENS = 300  # one long paragraph must not crowd out the others
QUESTION_TOKENS = 150
ANSWER_TOKENS = 200
CONDENSED_TOKENS = 60
HISTORY_TURNS = 3
COOLDOWN = 30.0  # seconds without LLM calls after a failed one
# How a passage is shown: its number (what the answer cites), its paragraph id, its text. Bulletin and section
# titles are left out: with them SmolLM2-135M declined to answer far more often (tests/answer/cassettes/README.md).
PASSAGE = "[{n}] ({id}) {text}"
STOP = ["\nQuestion:", "\nPassages:", "\nFollow-up:"]  # a small model may go on with the examples' pattern

_REFUSAL = re.compile(
    r"NOT IN THE BULLETINS|\b(?:do|does|did)(?: not|n['’]t) (?:say|mention|state|specify|contain|answer|provide|include)"
    r"|\bno (?:information|mention)\b|\bnot (?:mentioned|provided|stated|specified|available)\b"
    r"|\b(?:cannot|can['’]t|unable to) (?:answer|find|determine|tell)\b",
    re.I,
)
DECLINES = "declines to answer"


class ModelUnavailable(Exception):
    """The model gave no (further) reply: a timeout, a refused connection, an error status, an unreadable body."""


class LLMAnswerer:
    name = "llm"

    def __init__(self, base_url: str, model: str, api_key: str | None, timeout_s: float):
        from llama_index.llms.openai_like import OpenAILike

        self.model = model
        self.timeout_s = timeout_s
        self.llm = OpenAILike(
            model=model,
            api_base=base_url,
            api_key=api_key or "unused",  # local servers want none, the client insists on one
            timeout=timeout_s,
            max_retries=0,  # a retry would double the wait past the timeout users were promised
            is_chat_model=True,
            context_window=PROMPT_TOKENS + ANSWER_TOKENS,
            max_tokens=ANSWER_TOKENS,
            temperature=0.0,
        )
        self._resting_until = 0.0

    # -- the model ------------------------------------------------------------------------------------------------

    def _reply(self, messages: list[ChatMessage], **kwargs) -> Iterator[str]:
        """The model's reply, piece by piece as it arrives; ModelUnavailable (logged) when it fails or takes
        longer than the timeout, at once while the model is resting after a failure."""
        if time.monotonic() < self._resting_until:
            raise ModelUnavailable("resting after a failed call")
        deadline = time.monotonic() + self.timeout_s
        try:
            with closing(self.llm.stream_chat(messages, stop=STOP, **kwargs)) as chunks:  # closing: stop the model
                for chunk in chunks:
                    if chunk.delta:
                        yield chunk.delta
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the reply took longer than {self.timeout_s} s")
        except Exception as exc:  # timeout, refused connection, 5xx, unreadable body: all mean "no answer"
            log.warning("LLM call failed, answering without it: %s: %s", type(exc).__name__, exc)
            self._resting_until = time.monotonic() + COOLDOWN
            raise ModelUnavailable(str(exc)) from exc

    def _complete(self, messages: list[ChatMessage], **kwargs) -> str | None:
        """The model's whole reply, or None when it failed or was empty (the caller falls back)."""
        try:
            text = "".join(self._reply(messages, **kwargs))
        except ModelUnavailable:
            return None
        if not text.strip():
            log.warning("LLM returned no text")
            return None
        return text.strip()

    def _drafted(self, messages: list[ChatMessage], passages: list[Passage]) -> Iterator[Sentence]:
        """The sentences of the model's reply as it writes them (`split_streamed`); a reply that breaks off loses
        its unfinished last sentence."""
        try:
            yield from split_streamed(self._reply(messages), passages)
        except ModelUnavailable:
            return

    # -- follow-ups -----------------------------------------------------------------------------------------------

    def condense(self, text: str, earlier: list[tuple[Question, Answer]], without_llm: Question) -> Question | None:
        """The follow-up rewritten as a standalone question, or None to keep `without_llm`, the no-LLM resolution.

        The rewrite is used only if it is one question that neither invents nor drops a subject: its names and
        numbers all come from the conversation, and it keeps every name of the no-LLM resolution. A small model
        otherwise turns "How much was it?" after "What did Canada fund in March?" into "How much did the UNOCT
        provide?", and the answer to that is no answer to the user."""
        turns = earlier[-HISTORY_TURNS:]
        conversation = "\n".join(
            f"User: {question.text}\nAssistant: {truncate(answer.text, 80)}" for question, answer in turns
        )
        reply = self._complete(render("condense", conversation=conversation, question=text),
                               max_tokens=CONDENSED_TOKENS)
        if reply is None:
            return None
        candidate = re.sub(r"^standalone question:\s*", "", reply.splitlines()[0], flags=re.I).strip(" \"'“”")
        said = f"{conversation}\n{text}"
        invented = (numbers(candidate) - numbers(said)) | {n for n in names(candidate) if not _mentions(said, n)}
        dropped = {n for n in names(without_llm.standalone) if not _mentions(candidate, n)}
        if (invented or dropped or not candidate.endswith("?") or len(candidate) > 300 or not terms(candidate)
                or _REFUSAL.search(candidate)):
            log.info("condensed question %r not used (invented %s, dropped %s)", candidate, invented, dropped)
            return None
        return Question(text, candidate, None, without_llm.carried)

    # -- answers --------------------------------------------------------------------------------------------------

    def stream(self, question: Question, hits: list[NodeWithScore], corpus: Corpus | None, fallback: Answer,
               on_topic: set[str]) -> Iterator[str | Answer]:
        """The model's checked answer as it is written: each sentence that may be shown, as soon as it may (module
        docstring), then the Answer. That is the model's, whose text is the sentences yielded joined by spaces, or
        else `fallback` (the extractive answer, no sentence yielded) with the number of the model's sentences the
        checks removed. `on_topic`: the paragraphs in which the scorer finds a sentence that answers the question
        with the answerer's confidence threshold; an answer must cite one of them."""
        answer, why = yield from self._written(question, hits, corpus, fallback, on_topic)
        if answer.answerer != self.name:
            log.info("extractive answer given: %s", why)
        yield answer

    def _written(self, question: Question, hits: list[NodeWithScore], corpus: Corpus | None, fallback: Answer,
                 on_topic: set[str]) -> Generator[str, None, tuple[Answer, str]]:
        if corpus is None or not hits:
            return fallback, "nothing retrieved"
        asked = (f"{question.asked} (This follows the earlier question: {question.topic})" if question.topic
                 else question.asked)
        passages, messages = self._prompt(truncate(asked, QUESTION_TOKENS), hits)
        topical = {p.n for p in passages if p.paragraph_id in on_topic}
        checker = Checker(passages, corpus.aliases, asked, topical)
        by_id = {p.paragraph_id: p.n for p in passages}
        verdicts: list[Verdict] = []
        shown = 0  # kept sentences yielded so far
        for sentence in self._drafted(messages, passages):
            verdicts.append(_judged(checker, sentence))
            kept = Checked(verdicts).kept
            if verdicts[-1].kept and (shown or not _shortfall(question, fallback, kept, topical, corpus, by_id)):
                yield from (_written_as(verdict, by_id) for verdict in kept[shown:])
                shown = len(kept)
        if not verdicts:
            return fallback, "the model did not answer"
        checked = Checked(verdicts)
        if not checked.kept:
            declined = all(v.why == DECLINES for v in checked.verdicts)
            why = "the model declined" if declined else "no sentence is backed by its passage"
            return replace(fallback, removed_sentences=checked.removed), why
        why = _shortfall(question, fallback, checked.kept, topical, corpus, by_id)
        if why:
            return replace(fallback, removed_sentences=len(checked.verdicts)), why
        return self._compose(checked.kept, passages, by_id, checked.removed, fallback.confidence), ""

    def _prompt(self, question: str, hits: list[NodeWithScore]) -> tuple[list[Passage], list[ChatMessage]]:
        """The numbered passages that fit the budget (best first), and the chat that shows them."""
        budget = PROMPT_TOKENS - count_message_tokens(render("answer", passages="", question=question))
        passages, blocks = [], []
        for hit in hits:
            passage = Passage(len(passages) + 1, hit)
            block = PASSAGE.format(n=passage.n, text=truncate(passage.text, PASSAGE_TOKENS), heading=passage.heading,
                                   id=passage.paragraph_id)
            cost = count_tokens(block) + 1
            if cost > budget:
                break
            passages.append(passage)
            blocks.append(block)
            budget -= cost
        return passages, render("answer", passages="\n".join(blocks), question=question)

    def _compose(self, kept: list[Verdict], passages: list[Passage], by_id: dict[str, int], removed: int,
                 confidence: float) -> Answer:
        """The kept sentences (as `_written_as` writes them), citing the passages by the numbers the model saw, in
        order of first mention. The numbers are the prompt's, not renumbered from 1, so a correct answer reaches
        the user exactly as the model wrote it."""
        numbered = {p.n: p for p in passages}
        citations = {}
        for verdict in kept:
            for n in verdict.support:
                citations.setdefault(n, citation_for(n, numbered[n].hit, verdict.quotes[n]))
        text = " ".join(_written_as(verdict, by_id) for verdict in kept)
        return Answer(text, True, confidence, tuple(citations.values()), answerer=self.name,
                      removed_sentences=removed)


def _judged(checker: Checker, sentence: Sentence) -> Verdict:
    """The citation check's verdict, a refusal counting as no answer ("the passages do not say", cited or not)."""
    verdict = checker.verdict(sentence)
    if _REFUSAL.search(sentence.text):
        verdict.support, verdict.why = (), DECLINES
    if verdict.why:
        log.info("citation check: %r: %s", sentence.text, verdict.why)
    return verdict


def _shortfall(question: Question, fallback: Answer, kept: list[Verdict], topical: set[int], corpus: Corpus,
               by_id: dict[str, int]) -> str:
    """Why the kept sentences may not (yet) stand for the answer, or "" when they may: they must cite a passage on
    topic and say all that the extractive answer (`fallback`) says. Neither can be undone by adding sentences."""
    if not _cited(kept) & topical:
        return "what the passages back does not answer the question"
    left_out = omissions(question, fallback, " ".join(_written_as(v, by_id) for v in kept), corpus)
    if left_out:
        return f"the model's answer leaves out what the extractive one says: {' | '.join(left_out)}"
    return ""


def _written_as(verdict: Verdict, by_id: dict[str, int]) -> str:
    """A kept sentence as users see it. Right citations keep the model's own wording and markers (a paragraph id
    written as a marker becomes its number); a sentence that was re-cited, or cited a passage that contributes
    nothing, gets its markers rewritten before its final stop."""
    if verdict.support == verdict.sentence.cited:
        return MARKER.sub(lambda m: _as_numbers(m, by_id), verdict.sentence.raw)
    body = verdict.sentence.text
    stop = body[-1] if body[-1] in ".!?" else ""
    markers = "".join(f"[{n}]" for n in verdict.support)
    return f"{body.rstrip('.!?').rstrip()} {markers}{stop}"


def _cited(kept: list[Verdict]) -> set[int]:
    return {n for verdict in kept for n in verdict.support}


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.I) is not None


def _as_numbers(marker: re.Match, by_id: dict[str, int]) -> str:
    """A marker of a correctly cited sentence with its passages as numbers (its leading space kept)."""
    lead = marker.group(0)[: len(marker.group(0)) - len(marker.group(0).lstrip())]
    return lead + "[" + ", ".join(str(n) for n in dict.fromkeys(refs(marker, by_id))) + "]"

"""Answering: question + retrieved paragraphs → a quoted, cited answer with a confidence, or a useful abstention.

Import rule: code outside this package imports only the names below (bench/ and tests/ excepted). The modules
under it (sentences, followup, features, scorer, decide, llm, verify, completeness, prompts) may move; this
surface stays. The package imports index/, never service/ or flask.
"""

from answer.answerer import Answerer as Answerer
from answer.types import Answer as Answer, Citation as Citation, Question as Question

__all__ = ["Answerer", "Question", "Answer", "Citation"]

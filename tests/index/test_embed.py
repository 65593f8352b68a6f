"""Questions are embedded through ONNX Runtime, bulletins through llama-index's PyTorch model: both must put a
text at the same point, or a question would no longer meet the paragraphs that answer it."""

from __future__ import annotations

import numpy as np
import pytest

from index.embed import MAX_TOKENS, count_tokens, embed_query, embed_texts, embedding_model


@pytest.mark.parametrize("text", [
    "Who funded CT Travel?",
    "How many individuals did the UN Counter-Terrorism Centre train between January and March 2021?",
    "a",
    "",
    "Ünïcödé — 日本語のテキスト, emoji 🙂 and RTL עברית",
    "long question " * 300,  # past the model's window: both cut it at the same token
])
def test_a_question_lands_where_the_batch_model_puts_the_same_text(text):
    question = np.array(embed_query(text))
    batch = np.array(embedding_model().get_query_embedding(text))
    assert np.linalg.norm(question) == pytest.approx(1.0, abs=1e-6)
    assert np.abs(question - batch).max() < 1e-5


def test_a_question_finds_the_paragraph_embedded_in_a_batch():
    paragraphs = [
        "In March, UNOCT received a generous contribution from India ($500,000) in support of the Countering the "
        "Financing of Terrorism and the Countering Terrorist Travel Programmes.",
        "The workshop brought together officials from Kazakhstan, Kyrgyzstan, Tajikistan, Turkmenistan and Uzbekistan.",
    ]
    vectors = np.array(embed_texts(paragraphs))
    scores = vectors @ np.array(embed_query("Which Central Asian countries attended the workshop?"))
    assert scores.argmax() == 1
    assert count_tokens("long question " * 300) > MAX_TOKENS

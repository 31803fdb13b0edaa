"""The MiniLM encoder called from many threads at once, as Rasa's parse worker, the action
server's worker threads and batch jobs do.

Hugging Face's fast tokenizers set padding and truncation on the shared Rust object for each
call; two threads doing so at once fail with "Already borrowed". The encoder calls its
tokenizer only under its lock, so every thread gets the vectors a lone caller would.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from personalization.embeddings import MAX_TOKENS, SentenceEncoder, shared_encoder

THREADS = 8
ROUNDS = 12


def texts_for(worker: int, round_: int = 0) -> list[str]:
    """Texts of very different lengths, so each call pads and truncates differently; new
    texts every round, so no call is answered from the recent texts' vectors."""
    return [
        f"hi {round_}",
        f"where is my order number {worker} {round_}",
        f"{round_} " + "refund " * (worker * 40 + 1),  # past MAX_TOKENS for most: truncated
        f"{round_} " + "the cat sat on the mat " * (worker + 1),
    ]


def test_the_encoder_gives_every_thread_the_vectors_a_lone_caller_gets() -> None:
    encoder = shared_encoder()
    expected = {
        (w, r): encoder.encode(texts_for(w, r) + ["x"] * 16, batch_size=2)[:4]  # not kept
        for w in range(THREADS)
        for r in range(ROUNDS)
    }
    start = threading.Barrier(THREADS)

    def work(worker: int) -> list[np.ndarray]:
        start.wait()  # all threads call the tokenizer at the same moment
        return [encoder.encode(texts_for(worker, r), batch_size=2) for r in range(ROUNDS)]

    with ThreadPoolExecutor(THREADS) as pool:
        results = dict(zip(range(THREADS), pool.map(work, range(THREADS)), strict=True))
    for worker, vectors in results.items():
        for round_, got in enumerate(vectors):
            np.testing.assert_allclose(got, expected[(worker, round_)], atol=1e-5)
    assert len(texts_for(THREADS - 1)[2].split()) > MAX_TOKENS, "some texts are truncated"


def test_the_tokenizer_is_used_only_under_the_lock() -> None:
    encoder = shared_encoder()
    tokenizer = encoder._tokenizer
    seen: list[bool] = []

    class Watched:
        """The real tokenizer, noting whether the encoder's lock is held at each call."""

        def __call__(self, *args: object, **kwargs: object) -> object:
            seen.append(encoder._lock.locked())
            return tokenizer(*args, **kwargs)

    encoder._tokenizer = Watched()
    try:
        encoder.encode(["hello there", "where is my parcel"], batch_size=1)
    finally:
        encoder._tokenizer = tokenizer
    assert seen == [True, True]


def test_a_recent_text_is_answered_without_the_model_and_its_vector_is_safe() -> None:
    encoder = shared_encoder()
    model_calls: list[int] = []
    forward = encoder._forward

    def counted(*args: object) -> object:
        model_calls.append(1)
        return forward(*args)

    encoder._forward = counted  # type: ignore[method-assign]
    try:
        first = encoder.encode(["where is my parcel, cache test", "yes"])
        calls_after_first = len(model_calls)
        first[0][:] = 0.0  # the caller's copy, not the kept vector
        again = encoder.encode(["yes", "where is my parcel, cache test"])
    finally:
        encoder._forward = forward  # type: ignore[method-assign]
    assert calls_after_first >= 1 and len(model_calls) == calls_after_first
    assert np.linalg.norm(again[1]) > 0.99, "the kept vector was not changed by the caller"
    np.testing.assert_allclose(again[0], first[1])


def test_the_graph_is_traced_while_the_encoder_loads_never_on_a_message() -> None:
    """The first trace holds the GIL for over a second: a server's first customer message
    would stall every conversation on it."""
    encoder = SentenceEncoder()
    assert encoder._forward.experimental_get_tracing_count() == 1
    encoder.encode(["hi"])
    encoder.encode(texts_for(3), batch_size=3)
    assert encoder._forward.experimental_get_tracing_count() == 1

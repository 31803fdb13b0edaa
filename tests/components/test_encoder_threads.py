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

from personalization.embeddings import MAX_TOKENS, shared_encoder

THREADS = 8
ROUNDS = 12


def texts_for(worker: int) -> list[str]:
    """Texts of very different lengths, so each call pads and truncates differently."""
    return [
        "hi",
        f"where is my order number {worker}",
        "refund " * (worker * 40 + 1),  # past MAX_TOKENS for most workers: truncated
        "the cat sat on the mat " * (worker + 1),
    ]


def test_the_encoder_gives_every_thread_the_vectors_a_lone_caller_gets() -> None:
    encoder = shared_encoder()
    expected = {w: encoder.encode(texts_for(w), batch_size=2) for w in range(THREADS)}
    start = threading.Barrier(THREADS)

    def work(worker: int) -> list[np.ndarray]:
        start.wait()  # all threads call the tokenizer at the same moment
        return [encoder.encode(texts_for(worker), batch_size=2) for _ in range(ROUNDS)]

    with ThreadPoolExecutor(THREADS) as pool:
        results = dict(zip(range(THREADS), pool.map(work, range(THREADS)), strict=True))
    for worker, vectors in results.items():
        for got in vectors:
            np.testing.assert_allclose(got, expected[worker], atol=1e-5)
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

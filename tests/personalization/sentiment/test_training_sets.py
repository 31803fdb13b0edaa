"""Which rated texts the sentiment scorer trains on, and the tweeteval fifth it never sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from personalization.sentiment.training import (
    GROUND_TRUTH_SETS,
    DatasetMissing,
    training_sets,
    tweeteval_split,
)

pytestmark = pytest.mark.fast


def shared(tmp_path: Path, with_tweeteval: bool = True) -> Path:
    vader = tmp_path / "vader_ground_truth"
    vader.mkdir(parents=True)
    for name in GROUND_TRUTH_SETS:
        (vader / f"{name}_GroundTruth.txt").write_text("1\t2.5\tlovely\n2\t-2.5\tawful\n")
    if with_tweeteval:
        folder = tmp_path / "tweeteval_sentiment"
        folder.mkdir()
        for name, offset in (("val.csv", 0), ("test.csv", 50)):
            rows = ["text,label"] + [
                f"tweet {offset + i},{('negative', 'neutral', 'positive')[i % 3]}"
                for i in range(50)
            ]
            (folder / name).write_text("\n".join(rows) + "\n")
    return tmp_path


def test_a_fifth_of_tweeteval_is_held_out_of_training(tmp_path: Path) -> None:
    train, held_out = tweeteval_split(shared(tmp_path))
    assert (len(train.texts), len(held_out.texts)) == (80, 20)
    assert not set(train.texts) & set(held_out.texts)
    assert sorted(set(held_out.labels)) == ["negative", "neutral", "positive"]
    assert set(np.unique(train.ratings)) == {-2.0, 0.0, 2.0}
    again, _ = tweeteval_split(tmp_path)
    assert again.texts == train.texts, "a fixed seed: the same split every time"


def test_training_uses_tweeteval_when_it_is_there(tmp_path: Path) -> None:
    names = [s.name for s in training_sets(shared(tmp_path / "a"))]
    assert names == [*GROUND_TRUTH_SETS, "tweeteval"]
    alone = [s.name for s in training_sets(shared(tmp_path / "b", with_tweeteval=False))]
    assert alone == list(GROUND_TRUTH_SETS)
    with pytest.raises(DatasetMissing):
        tweeteval_split(tmp_path / "b")

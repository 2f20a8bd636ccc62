"""Model inputs without ONNX Runtime: seeded random feeds that suit each dtype, and sample files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from int8gate.inputs.feeds import random_feed
from int8gate.inputs.resolved import ResolvedInput
from int8gate.inputs.samples import FeedError, load_samples


def test_random_feeds_suit_each_dtype() -> None:
    rng = np.random.default_rng(0)
    floats = random_feed(ResolvedInput("pixel_values", (2, 3), "float32"), rng)
    assert floats.dtype == np.float32 and floats.shape == (2, 3) and floats.std() > 0
    assert (random_feed(ResolvedInput("attention_mask", (1, 8), "int64"), rng) == 1).all()
    assert (random_feed(ResolvedInput("token_type_ids", (1, 8), "int64"), rng) == 0).all()
    ids = random_feed(ResolvedInput("input_ids", (1, 500), "int64"), rng)
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 100
    image = random_feed(ResolvedInput("image", (4096,), "uint8"), rng)
    assert image.min() == 0 and image.max() == 255
    signed = random_feed(ResolvedInput("q", (4096,), "int8"), rng)
    assert signed.min() >= 0 and signed.max() == 127
    assert random_feed(ResolvedInput("flag", (3,), "bool"), rng).dtype == np.bool_


def test_random_feeds_repeat_for_a_seed() -> None:
    spec = ResolvedInput("x", (4,), "float32")
    a = random_feed(spec, np.random.default_rng(3))
    assert np.array_equal(a, random_feed(spec, np.random.default_rng(3)))


def test_samples_from_npz_with_a_sample_axis(tmp_path: Path) -> None:
    specs = (ResolvedInput("x", (1, 3), "float32"), ResolvedInput("ids", (1, 2), "int64"))
    path = tmp_path / "samples.npz"
    np.savez(path, x=np.arange(12).reshape(4, 1, 3), ids=np.zeros((1, 2)))
    feeds = load_samples(path, specs)
    assert len(feeds) == 1  # ids holds a single sample, so only one complete feed exists
    assert feeds[0]["x"].dtype == np.float32 and feeds[0]["x"].tolist() == [[0, 1, 2]]
    np.savez(path, x=np.arange(12).reshape(4, 1, 3), ids=np.zeros((4, 1, 2)))
    assert len(load_samples(path, specs)) == 4


def test_samples_errors_name_the_problem(tmp_path: Path) -> None:
    spec = ResolvedInput("x", (1, 3), "float32")
    npz = tmp_path / "s.npz"
    np.savez(npz, y=np.zeros((1, 3)))
    with pytest.raises(FeedError, match="no array for input"):
        load_samples(npz, (spec,))
    np.savez(npz, x=np.zeros((2, 2)))
    with pytest.raises(FeedError, match="wants"):
        load_samples(npz, (spec,))
    npy = tmp_path / "s.npy"
    np.save(npy, np.zeros((1, 3)))
    assert len(load_samples(npy, (spec,))) == 1
    with pytest.raises(FeedError, match="one input"):
        load_samples(npy, (spec, ResolvedInput("z", (1,), "float32")))

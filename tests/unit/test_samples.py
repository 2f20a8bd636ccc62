"""Sample files read by their headers: each way a .npy/.npz can be wrong is one line naming the file,
and a file that inflates to far more than the samples used costs only those samples."""

from __future__ import annotations

import shutil
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.corpus.artifacts import build, npy_header, zeros_npz

from int8gate.errors import UsageError
from int8gate.inputs.plan import plan_inputs
from int8gate.inputs.resolved import ResolvedInput
from int8gate.inputs.samples import FeedError, iter_samples, load_samples, sample_shapes
from int8gate.model.values import TensorSpec

X = ResolvedInput("x", (1, 64), "float32")


def many_members(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(1001):
            archive.writestr(f"a{i}.npy", b"")


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("s.npy", "samples_zip_as.npy", "s.npy: is an .npz (zip) archive, not an .npy array; rename it to .npz"),
        ("s.npz", "samples_npy_as.npz", "s.npz: is a single .npy array, not an .npz archive; rename it to .npy"),
        ("s.npz", "samples_truncated.npz", "s.npz: not a readable .npz archive (File is not a zip file; truncated?)"),
        ("s.npz", "samples_badcrc.npz", "s.npz: x: corrupt or unreadable (Bad CRC-32 for file 'x.npy')"),
        ("s.npz", "samples_header_lies.npz", "s.npz: x: declares 68,719,476,736 bytes of samples, over the 2,147,483,648 limit"),
        ("s.npz", lambda p: zipfile.ZipFile(p, "w").writestr("x.npy", npy_header((1 << 16, 1, 64)) + bytes(1024)),
         "s.npz: x: its header declares 16,777,216 bytes of data but the archive holds 1,024"),
        ("s.npy", lambda p: p.write_bytes(npy_header((1 << 16, 1, 64)) + bytes(1024)),
         "s.npy: its header declares 16,777,216 bytes of data but the file holds 1,024"),
        ("s.npy", "samples_pickle.npy", "s.npy: holds Python objects (a pickle); int8gate does not load pickles"),
        ("s.npz", "samples_pickle.npz", "s.npz: x: holds Python objects (a pickle); int8gate does not load pickles"),
        ("s.npy", lambda p: np.save(p, np.array(["a", "b"])), "s.npy: holds <U1 values; sample inputs are numbers"),
        ("s.npz", many_members, "s.npz: the archive lists 1,001 members; a sample file needs one per input"),
        ("s.npz", lambda p: p.write_bytes(b"not a sample file"), "s.npz: is neither an .npy array nor an .npz archive"),
    ],
    ids=["npz-named-npy", "npy-named-npz", "truncated-zip", "bad-crc", "header-claims-64-GiB", "header-lies-npz",
         "header-lies-npy", "pickle-npy", "pickle-npz", "text", "1001-members", "junk"],
)
def test_a_bad_sample_file_is_one_line_naming_it(
    tmp_path: Path, name: str, make: str | Callable[[Path], object], message: str
) -> None:
    path = tmp_path / name
    if isinstance(make, str):
        shutil.copy(build(make, tmp_path / "built"), path)
    else:
        make(path)
    with pytest.raises(UsageError) as caught:
        sample_shapes(path)
    assert str(caught.value).startswith(f"{tmp_path.as_posix()}/{message}")


def test_a_file_that_inflates_to_a_gigabyte_costs_only_the_samples_used(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    zeros_npz(path, 1_000_000)  # 256 MB of zeros in a ~250 KB file
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    assert sample_shapes(path) == {"x": ((1_000_000, 1, 64), "float32")}  # streamed through its CRC, not held
    feeds = load_samples(path, (X,), 8)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(feeds) == 8 and feeds[0]["x"].shape == (1, 64)
    assert peak < 16 << 20  # the 8 samples and zlib's buffers, not the 256 MB


def test_only_the_samples_asked_for_are_read_from_a_npy(tmp_path: Path) -> None:
    path = tmp_path / "s.npy"
    data = np.arange(10 * 64, dtype=np.float32).reshape(10, 1, 64)
    np.save(path, data)
    feeds = load_samples(path, (X,), 3)
    assert [f["x"][0, 0] for f in feeds] == [0.0, 64.0, 128.0]
    assert len(load_samples(path, (X,))) == 10
    np.save(path, np.asfortranarray(np.arange(6 * 64, dtype=np.float32).reshape(6, 64)).reshape(6, 1, 64, order="F"))
    assert len(load_samples(path, (X,), 2)) == 2


def test_an_array_with_no_samples_says_so(tmp_path: Path) -> None:
    path = tmp_path / "s.npz"
    np.savez(path, x=np.zeros((0, 1, 64), np.float32))
    with pytest.raises(FeedError, match=r"s\.npz: x holds no samples"):
        load_samples(path, (X,), 2)


IMAGE = TensorSpec("x", "float32", ("batch", 3, 8, 8))
SPEC = ResolvedInput("x", (1, 3, 8, 8), "float32", "samples")


def _save(path: Path, **arrays: Any) -> Path:
    np.savez(path, allow_pickle=False, **arrays)
    return path


def test_calibration_data_on_the_batch_axis_is_samples_of_batch_one(tmp_path: Path) -> None:
    data = np.random.default_rng(0).standard_normal((5, 3, 8, 8)).astype(np.float32)
    path = _save(tmp_path / "calib.npz", x=data)
    plan = plan_inputs([IMAGE], [], samples=sample_shapes(path))
    assert plan.inputs == (SPEC,)
    feeds = load_samples(path, plan.inputs)
    assert len(feeds) == 5 and feeds[2]["x"].shape == (1, 3, 8, 8)
    np.testing.assert_array_equal(feeds[2]["x"][0], data[2])


def test_a_leading_sample_axis_and_a_single_sample_still_work(tmp_path: Path) -> None:
    stacked = _save(tmp_path / "s.npz", x=np.zeros((4, 1, 3, 8, 8), np.float32))
    assert plan_inputs([IMAGE], [], samples=sample_shapes(stacked)).inputs == (SPEC,)
    assert len(load_samples(stacked, [SPEC])) == 4
    np.save(tmp_path / "one.npy", np.zeros((1, 3, 8, 8), np.float32), allow_pickle=False)
    assert len(load_samples(tmp_path / "one.npy", [SPEC])) == 1


def test_a_folder_is_read_file_by_file_in_name_order_up_to_the_count(tmp_path: Path) -> None:
    folder = tmp_path / "calibration"
    folder.mkdir()
    for k in range(3):
        _save(folder / f"batch{k}.npz", x=np.full((2, 3, 8, 8), k, np.float32))
    (folder / "README.txt").write_text("not a sample")
    assert plan_inputs([IMAGE], [], samples=sample_shapes(folder)).inputs == (SPEC,)
    values = [int(feed["x"][0, 0, 0, 0]) for feed in iter_samples(folder, [SPEC], 5)]
    assert values == [0, 0, 1, 1, 2]


def test_samples_that_do_not_fit_name_the_file(tmp_path: Path) -> None:
    wrong = _save(tmp_path / "wrong.npz", x=np.zeros((2, 3, 9, 8), np.float32))
    with pytest.raises(FeedError, match=r"wrong.npz: x has shape \(2, 3, 9, 8\), wants \(1, 3, 8, 8\)"):
        load_samples(wrong, [SPEC])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match=r"holds no \.npy or \.npz files"):
        sample_shapes(empty)

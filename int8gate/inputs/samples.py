"""The one reader of sample files: real model inputs as the calibration data users already have.

Accepted: one .npz (arrays by input name) or .npy (a single-input model), or a folder of them (read
in name order, one file at a time). In a file an array may hold one sample, several stacked on a
leading sample axis, or several on the model's own batch axis when the model's batch is 1
(``[N, 3, 224, 224]`` for an input ``[1, 3, 224, 224]``: N samples of batch 1).

Sample files come from pull requests, so they are read by their headers, never whole:
``sample_shapes`` (the parent, for input planning) reads each array's header, checks it against the
bytes that are really there (a header that claims 64 GiB over 1 KiB, an .npz named .npy, a
truncated or corrupt zip, a pickle) and streams each archive member once through its checksum in
1 MiB pieces; ``load_samples`` (the worker, the profiler) reads only the samples it will feed — the
first ``count`` along a leading sample axis — so a 1 MB archive that inflates to a gigabyte costs
what those samples take. ``allow_pickle`` stays off.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from int8gate.errors import UsageError
from int8gate.inputs.feeds import Feeds
from int8gate.inputs.resolved import ResolvedInput, SampleShapes

_LONE = ""
"""The key of a .npy file's one array (it maps to a single-input model)."""
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
MAX_SAMPLE_BYTES = 2 << 30
"""Largest array a sample file may declare, uncompressed (models are capped at 2 GiB too)."""
_CHUNK = 1 << 20
_FORTRAN_BYTES = 64 << 20
MAX_ARCHIVE_MEMBERS = 1000
"""An .npz lists at most this many members (Python's zipfile builds an object per listed member)."""
_NUMERIC_KINDS = "biuf"
SAMPLE_SUFFIXES = (".npy", ".npz")
MAX_SAMPLE_FILES = 1000
"""A samples folder holds at most this many .npy/.npz files."""


class FeedError(Exception):
    """A sample file does not fit the model's inputs; the message names the file and the input."""


@dataclass(frozen=True)
class _Header:
    """What an array's .npy header declares."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran: bool

    @property
    def nbytes(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count * self.dtype.itemsize


def _read_header(stream: IO[bytes], where: str) -> _Header:
    """The header of the .npy at the start of ``stream``; ``FeedError`` for anything but plain numbers."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise FeedError(f"{where}: .npy format version {version} is not supported (save it with numpy.save)")
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise FeedError(f"{where}: not a readable .npy header ({_short(exc)})") from None
    if dtype.hasobject:
        raise FeedError(f"{where}: holds Python objects (a pickle); int8gate does not load pickles")
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
        raise FeedError(f"{where}: holds {dtype} values; sample inputs are numbers or booleans")
    header = _Header(tuple(int(d) for d in shape), dtype, bool(fortran))
    if header.nbytes > MAX_SAMPLE_BYTES:
        raise FeedError(f"{where}: declares {header.nbytes:,} bytes of samples, over the {MAX_SAMPLE_BYTES:,} limit")
    return header


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


@contextmanager
def _members(path: Path) -> Iterator[dict[str, tuple[_Header, zipfile.ZipInfo | None]]]:
    """Each array's header by name (``_LONE`` for a .npy) and its zip member, the file kept open."""
    where = path.as_posix()
    with path.open("rb") as handle:
        magic = handle.read(6)
        handle.seek(0)
        if magic.startswith(_NPY_MAGIC):
            if path.suffix == ".npz":
                raise FeedError(f"{where}: is a single .npy array, not an .npz archive; rename it to .npy")
            header = _read_header(handle, where)
            available = path.stat().st_size - handle.tell()
            if header.nbytes > available:
                raise FeedError(
                    f"{where}: its header declares {header.nbytes:,} bytes of data but the file holds {available:,}"
                )
            yield {_LONE: (header, None)}
            return
        if not magic.startswith(_ZIP_MAGICS):
            raise FeedError(f"{where}: is neither an .npy array nor an .npz archive")
        if path.suffix == ".npy":
            raise FeedError(f"{where}: is an .npz (zip) archive, not an .npy array; rename it to .npz")
        listed = _listed_members(handle)
        if listed is not None and listed > MAX_ARCHIVE_MEMBERS:
            raise FeedError(f"{where}: the archive lists {listed:,} members; a sample file needs one per input")
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise FeedError(f"{where}: not a readable .npz archive ({_short(exc)}; truncated?)") from None
        with archive:
            found: dict[str, tuple[_Header, zipfile.ZipInfo | None]] = {}
            for info in archive.infolist():
                if not info.filename.endswith(".npy") or info.is_dir():
                    continue
                name = info.filename.removesuffix(".npy")
                member = f"{where}: {name}"
                try:
                    with archive.open(info) as stream:
                        header = _read_header(stream, member)
                        offset = stream.tell()
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                    raise FeedError(f"{member}: corrupt or unreadable ({_short(exc)})") from None
                if offset + header.nbytes != info.file_size:
                    raise FeedError(
                        f"{member}: its header declares {header.nbytes:,} bytes of data but the archive holds "
                        f"{max(info.file_size - offset, 0):,}"
                    )
                found[name] = (header, info)
            yield found


def _listed_members(handle: IO[bytes]) -> int | None:
    """How many members a zip's end record lists (zip64 included), read before ``zipfile`` builds an
    object for each; ``None`` when no end record is found (``zipfile`` then says what is wrong)."""
    size = handle.seek(0, 2)
    tail = min(size, 22 + 0xFFFF)
    handle.seek(size - tail)
    data = handle.read(tail)
    handle.seek(0)
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(data):
        return None
    count = int.from_bytes(data[end + 10 : end + 12], "little")
    locator = end - 20
    if count != 0xFFFF or locator < 0 or data[locator : locator + 4] != b"PK\x06\x07":
        return count
    handle.seek(int.from_bytes(data[locator + 8 : locator + 16], "little"))
    record = handle.read(56)
    handle.seek(0)
    if len(record) < 40 or record[:4] != b"PK\x06\x06":
        return None
    return int.from_bytes(record[32:40], "little")


def _check_stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
    """Inflate one member to its end in 1 MiB pieces, so zipfile checks its CRC-32, holding nothing."""
    try:
        with archive.open(info) as stream:
            while stream.read(_CHUNK):
                pass
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        name = info.filename.removesuffix(".npy")
        raise FeedError(f"{where}: {name}: corrupt or unreadable ({_short(exc)})") from None


def sample_files(path: Path) -> list[Path]:
    """The .npy/.npz files of a sample path: the file itself, or a folder's in name order."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix in SAMPLE_SUFFIXES and p.is_file() and not p.is_symlink())
    if not files:
        raise UsageError(f"{path.as_posix()}: the samples folder holds no .npy or .npz files")
    if len(files) > MAX_SAMPLE_FILES:
        raise UsageError(f"{path.as_posix()}: the samples folder holds {len(files)} files (at most {MAX_SAMPLE_FILES})")
    return files


def sample_shapes(path: Path) -> SampleShapes:
    """Shapes and dtypes of the arrays in a sample file (a folder's first file), for input planning.

    Headers only; every file of a folder is checked the same way. Raises ``UsageError`` naming the file
    for anything it cannot use; an archive's members are also streamed once through their checksums,
    so a corrupt file is refused before anything runs.
    """
    files = sample_files(path)
    shapes = [_file_shapes(file) for file in files]
    return shapes[0]


def _file_shapes(path: Path) -> SampleShapes:
    try:
        with _members(path) as found:
            shapes = {name: (header.shape, str(header.dtype)) for name, (header, _) in found.items()}
            members = [info for _, info in found.values() if info is not None]
        if members:
            with zipfile.ZipFile(path) as archive:
                for info in members:
                    _check_stream(archive, info, path.as_posix())
        return shapes
    except FeedError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path.as_posix()}: cannot be read ({exc.strerror or exc})") from None


def _leading(path: Path, header: _Header, info: zipfile.ZipInfo | None, rows: int) -> npt.NDArray[Any]:
    """The first ``rows`` entries along the leading axis (a 0-d array whole), read and nothing more."""
    try:
        with _open_data(path, info) as stream:
            if not header.shape:
                return np.asarray(np.frombuffer(stream.read(header.nbytes), dtype=header.dtype).reshape(()).copy())
            wanted = min(rows, header.shape[0])
            if header.fortran:  # rows are not contiguous: only a small array is read whole
                if header.nbytes > _FORTRAN_BYTES:
                    raise FeedError(f"{path.name}: a {header.nbytes:,}-byte array in Fortran order; save it in C order")
                whole = np.frombuffer(stream.read(header.nbytes), dtype=header.dtype)
                return np.asarray(whole.reshape(header.shape, order="F")[:wanted].copy())
            per_row = header.nbytes // header.shape[0] if header.shape[0] else 0
            data = stream.read(per_row * wanted)
            return np.asarray(np.frombuffer(data, dtype=header.dtype).reshape((wanted, *header.shape[1:])).copy())
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FeedError(f"{path.name}: truncated or corrupt ({_short(exc)})") from None


@contextmanager
def _open_data(path: Path, info: zipfile.ZipInfo | None) -> Iterator[IO[bytes]]:
    """A stream positioned at the array's data (after its .npy header)."""
    if info is None:
        with path.open("rb") as handle:
            _read_header(handle, path.name)
            yield handle
        return
    with zipfile.ZipFile(path) as archive, archive.open(info) as stream:
        _read_header(stream, path.name)
        yield stream


def load_samples(path: Path, specs: Sequence[ResolvedInput], count: int | None = None) -> list[Feeds]:
    """Up to ``count`` feeds (all there are when ``None``) from a sample file or folder (``iter_samples``)."""
    return list(iter_samples(path, specs, count))


def iter_samples(path: Path, specs: Sequence[ResolvedInput], count: int | None = None) -> Iterator[Feeds]:
    """Per-sample feeds from a sample file or folder, up to ``count``; one file's samples in memory at a time."""
    given = 0
    for file in sample_files(path):
        wanted = None if count is None else count - given
        if wanted is not None and wanted <= 0:
            return
        for feed in _file_feeds(file, specs, wanted):
            given += 1
            yield feed


def _file_feeds(path: Path, specs: Sequence[ResolvedInput], count: int | None = None) -> list[Feeds]:
    """Up to ``count`` feeds (all the file holds when ``None``) from a .npz (by input name) or a .npy
    (one input); only those samples are read."""
    try:
        with _members(path) as found:
            headers = dict(found)
    except OSError as exc:
        raise FeedError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    if set(headers) == {_LONE}:
        if len(specs) != 1:
            raise FeedError(f"{path.name}: a .npy holds one input; the model has {len(specs)}")
        chosen = {specs[0].name: headers[_LONE]}
    else:
        missing = [s.name for s in specs if s.name not in headers]
        if missing:
            raise FeedError(f"{path.name}: no array for input(s) {', '.join(missing)}")
        chosen = {s.name: headers[s.name] for s in specs}
    per_input: dict[str, list[npt.NDArray[Any]]] = {}
    for spec in specs:
        header, info = chosen[spec.name]
        stacked = header.shape[1:] == spec.shape
        on_batch = (spec.shape[:1] == (1,) and len(header.shape) == len(spec.shape)
                    and header.shape[1:] == spec.shape[1:])  # fmt: skip
        if header.shape == spec.shape:  # one sample: read whole (its size is the input's)
            whole = header.shape[0] if header.shape else 1
            per_input[spec.name] = [_leading(path, header, info, whole).reshape(spec.shape).astype(spec.dtype)]
        elif (stacked or on_batch) and not header.shape[0]:
            raise FeedError(f"{path.name}: {spec.name} holds no samples")
        elif stacked or on_batch:  # a leading sample axis, or N samples on the model's batch axis of 1
            rows = header.shape[0] if count is None else min(max(count, 1), header.shape[0])
            block = _leading(path, header, info, rows).astype(spec.dtype)
            samples = (block[i] if stacked else block[i : i + 1] for i in range(rows))
            per_input[spec.name] = [np.ascontiguousarray(sample) for sample in samples]
        else:
            raise FeedError(f"{path.name}: {spec.name} has shape {header.shape}, wants {spec.shape}")
    feeds = min(len(v) for v in per_input.values())
    return [{name: per_input[name][i] for name in per_input} for i in range(feeds)]

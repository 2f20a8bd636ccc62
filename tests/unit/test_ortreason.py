"""ONNX Runtime's own reason kept whole: source locations, C++ signatures and the model's path removed."""

from __future__ import annotations

from int8gate.runtime.session import MAX_CAUSE, ort_reason

OPSET = (
    "[ONNXRuntimeError] : 1 : FAIL : Load model from /home/runner/work/repo/models/int8.onnx failed:/onnxruntime_src/"
    "onnxruntime/core/graph/model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(const "
    "std::unordered_map<std::__cxx11::basic_string<char>, int>&, const onnxruntime::logging::Logger&, bool, const "
    "string&, int) ONNX Runtime only *guarantees* support for models stamped with official released onnx opset "
    "versions. Opset 30 is under development and support for this is limited. The operator schemas and or other "
    "functionality may change before next ONNX release and in this case ONNX Runtime will not guarantee backward "
    "compatibility. Current official support for domain ai.onnx is till opset 28."
)


def test_the_reason_behind_a_signature_is_kept_whole() -> None:
    reason = ort_reason(OPSET)
    assert reason.startswith("ONNX Runtime only *guarantees* support")
    assert reason.endswith("Current official support for domain ai.onnx is till opset 28.")
    assert "onnxruntime_src" not in reason and "/home/runner" not in reason


def test_a_kernel_failure_keeps_the_node_and_the_allocation() -> None:
    text = ("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Expand node. "
            "Name:'' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* "
            "onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, "
            "onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 17179869184")  # fmt: skip
    assert ort_reason(text) == ("Non-zero status code returned while running Expand node. Name:'' Status Message: "
                                "Failed to allocate memory for requested buffer of size 17179869184")  # fmt: skip


def test_a_very_long_reason_is_cut_and_says_so() -> None:
    assert len(ort_reason("x " * 1000)) == MAX_CAUSE and ort_reason("x " * 1000).endswith("...")

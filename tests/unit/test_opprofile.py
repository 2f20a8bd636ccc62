"""ONNX Runtime's profile text: what is not a profile is refused."""

from __future__ import annotations

import pytest

from int8gate.measure.opprofile import ProfileFormatError, parse_profile


def test_bad_profile_text_is_a_format_error() -> None:
    with pytest.raises(ProfileFormatError, match="not JSON"):
        parse_profile("{")
    with pytest.raises(ProfileFormatError, match="JSON array"):
        parse_profile('{"traceEvents": []}')

"""Issue 16: fuzzing in the spirit of onnx's own harnesses, with Hypothesis.

Byte mutations of the sample models go through ``load_model`` and, when that accepts them, the
overview (10,000 cases); structure mutations — valid protobuf with hostile field values — go
through every describe function, onnx's native passes included (in their limited child).
Either way the only acceptable outcomes are a record or an ``InspectorError`` with a message:
any other exception is a bug, and a crash of onnx must stay in its child.
"""

from __future__ import annotations

import os
from datetime import timedelta

import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

import inspector as I
from inspector.errors import InspectorError
from tests.conftest import SAMPLES
from tests.factories import linear, model, vi
from tests.test_hostile import BUILDERS

SEEDS = [p.read_bytes() for p in sorted(SAMPLES.glob("*.onnx"))]

# The README's test command runs 10,000 byte and 300 structure mutations; the long run
# (bench/fuzz_long.sh) raises both and fails any single case slower than 5 s (a hang).
BYTE_CASES = int(os.environ.get("INSPECTOR_FUZZ_BYTES", 10_000))
STRUCTURE_CASES = int(os.environ.get("INSPECTOR_FUZZ_STRUCTURE", 300))
DEADLINE = (
    timedelta(seconds=float(os.environ["INSPECTOR_FUZZ_DEADLINE_S"]))
    if os.environ.get("INSPECTOR_FUZZ_DEADLINE_S")
    else None
)


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x08, 0x12, 0x1A]))
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[i : i + draw(st.integers(1, 64))]
    return bytes(data)


@settings(
    max_examples=BYTE_CASES,
    deadline=DEADLINE,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_bytes())
def test_byte_mutations_load_or_say_why(data: bytes) -> None:
    try:
        loaded = I.load_model(data, {}, name="fuzz.onnx")
    except InspectorError as exc:
        assert str(exc)
        return
    I.build_overview(loaded)


HOSTILE_INTS = st.sampled_from([-1, 0, 1, 2**31 - 1, 2**31, 2**62, -(2**63), 2**63 - 1])
NAMES = st.sampled_from(["", "x", "y", "W", "b", "a\nb", "<a href=x>", "../../etc/passwd", "é"])


@st.composite
def mutated_models(draw: st.DrawFn) -> bytes:
    m = linear()
    for _ in range(draw(st.integers(1, 5))):
        what = draw(st.sampled_from(["dim", "name", "opset", "ir", "attr", "dtype", "node"]))
        if what == "dim":
            dims = m.graph.input[0].type.tensor_type.shape.dim
            if dims:
                dims[draw(st.integers(0, len(dims) - 1))].dim_value = draw(HOSTILE_INTS)
        elif what == "name":
            node = m.graph.node[draw(st.integers(0, len(m.graph.node) - 1))]
            node.input[draw(st.integers(0, len(node.input) - 1))] = draw(NAMES)
        elif what == "opset":
            m.opset_import[0].version = draw(HOSTILE_INTS)
        elif what == "ir":
            m.ir_version = draw(HOSTILE_INTS)
        elif what == "attr":
            m.graph.node[0].attribute.append(
                helper.make_attribute(draw(NAMES) or "k", draw(st.integers(-5, 5)))
            )
        elif what == "dtype":
            m.graph.initializer[0].data_type = draw(st.integers(0, 30))
        else:
            m.graph.node.append(
                helper.make_node(
                    draw(st.sampled_from(["Relu", "Loop", "If", "Reshape", "Unknown", "Det"])),
                    [draw(NAMES)],
                    [draw(NAMES) or "z"],
                )
            )
    return m.SerializeToString()


@settings(
    max_examples=STRUCTURE_CASES,
    deadline=DEADLINE,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated_models())
def test_structure_mutations_describe_or_say_why(data: bytes) -> None:
    try:
        loaded = I.load_model(data, {}, name="fuzz.onnx")
    except InspectorError:
        return
    for build in BUILDERS:
        build(loaded)


def test_the_harness_finds_what_it_should():
    """The fuzzer reaches the code it means to: a model with a dangling input is described."""
    m = model([helper.make_node("Relu", ["nope"], ["y"])], [], [vi("y", TensorProto.FLOAT)])
    d = I.diagnose(I.load_model(m.SerializeToString(), {}))
    assert "dangling_input" in {f.code for f in d.findings}
    assert onnx.ModelProto  # the import the strategies rely on

"""What a model's graph says about the values its inputs expect: read from the first ops that
consume each input, so generated inputs make domain sense (issue 23: image inputs in [-1, 1],
token ids past the embedding table, a TTS speed of -0.275 giving audio of 1e10).

- **ids**: an input (through Cast/Unsqueeze/Reshape…) used as the indices of a ``Gather`` on a
  table, or of a ``OneHot``, takes values below the table's row count or the depth — a byte
  classifier's float "bytes" input cast to int and one-hot encoded at depth 257 gets 0..256.
- **raw pixels**: an image input whose first op divides by ~255, multiplies by ~1/255, or
  subtracts a mean of pixel scale (127.5; 123.68, 116.78, 103.94) wants values 0..255. Of the
  real models in the tests, no image model normalises in its graph (a YOLOv8 detector, PP-OCR
  det/rec/cls, PicoDet and an NSFW ResNet all start with a Conv or a Transpose then a Conv:
  their preprocessing happens outside), so [0, 1] stays the image default and 0..255 needs
  this evidence.

Only the main graph is read, and only small inline constants; nothing here runs the model.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from inspector.model.dtypes import plain_array
from inspector.model.proto import ModelProto, NodeProto, TensorProto

#: Shape inference's model, or a function that runs it when first needed.
Inferred = ModelProto | Callable[[], ModelProto | None] | None

#: Ops that carry an input's values on unchanged (or only re-shaped / re-typed).
PASS_THROUGH = frozenset(
    {"Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose", "Expand"}
)
#: Ops whose output has their first input's shape (a weight's, when that input is one).
SAME_SHAPE = frozenset({"DequantizeLinear", "Cast", "Identity"})
#: Two-input ops whose output has the inputs' broadcast shape (a weight times its scale).
BROADCAST = frozenset({"Mul", "Add", "Sub", "Div"})
#: How many pass-through ops are followed from an input.
MAX_HOPS = 4
#: A scalar constant no larger than this is read for evidence (bytes).
MAX_CONSTANT_BYTES = 4096


@dataclass(frozen=True)
class ValueHint:
    """Values for one input, and the evidence: ``why`` is printed with the input."""

    low: float
    high: float
    why: str
    integers: bool = False  # whole numbers, even for a float input (indices cast later)


class _Graph:
    """Consumers and small constant values of a main graph."""

    def __init__(self, model: ModelProto, inferred: Inferred) -> None:
        g = model.graph
        self._model, self._inferred = model, inferred
        self.consumers: dict[str, list[NodeProto]] = defaultdict(list)
        for node in g.node:
            for x in node.input:
                if x:
                    self.consumers[x].append(node)
        self.tensors = {t.name: t for t in g.initializer}
        self.producers = {out: node for node in g.node for out in node.output if out}
        self.constants: dict[str, TensorProto] = {}
        for node in g.node:
            if node.op_type == "Constant" and len(node.output) == 1:
                for a in node.attribute:
                    if a.name == "value" and a.HasField("t"):
                        self.constants[node.output[0]] = a.t

    @functools.cached_property
    def shapes(self) -> dict[str, list[int | None]]:
        """Declared and inferred shapes of the graph's tensors; shape inference (a child
        process that imports onnx, ~1 s) runs only when a shape is asked for that no weight or
        constant gives — most models never ask."""
        inferred = self._inferred() if callable(self._inferred) else self._inferred
        shapes: dict[str, list[int | None]] = {}
        declared = self._model.graph.value_info
        for v in (*(inferred.graph.value_info if inferred is not None else ()), *declared):
            tt = v.type.tensor_type
            if v.type.WhichOneof("value") == "tensor_type" and tt.HasField("shape"):
                shapes[v.name] = [
                    d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim
                ]
        return shapes

    def dims(self, name: str) -> list[int | None] | None:
        found = self._weight_dims(name, MAX_HOPS)
        return found if found is not None else self.shapes.get(name)

    def _weight_dims(self, name: str, hops: int) -> list[int | None] | None:
        """The shape of a weight, or of a weight dequantized in the graph (``Cast`` then
        ``Mul`` by a scale, ``DequantizeLinear``) — known without shape inference; None when
        it takes more than that."""
        t = self.tensors.get(name) or self.constants.get(name)
        if t is not None:
            return list(t.dims)
        node = self.producers.get(name)
        if node is None or hops <= 0 or not node.input:
            return None
        if node.op_type in SAME_SHAPE:
            return self._weight_dims(node.input[0], hops - 1)
        if node.op_type in BROADCAST and len(node.input) == 2:
            a, b = (self._weight_dims(x, hops - 1) for x in node.input)
            if a is None or b is None:
                return None
            one: list[int | None] = [1]
            a, b = one * (len(b) - len(a)) + a, one * (len(a) - len(b)) + b
            pairs = list(zip(a, b, strict=True))
            if any(x is None or y is None or 1 not in (x, y) and x != y for x, y in pairs):
                return None
            return [y if x == 1 else x for x, y in pairs]
        return None

    def value(self, name: str) -> np.ndarray | None:
        """A small inline constant's values (None when unknown, external or large)."""
        t = self.tensors.get(name) or self.constants.get(name)
        if t is None or t.data_location == TensorProto.EXTERNAL:
            return None
        if t.ByteSize() > MAX_CONSTANT_BYTES:
            return None
        try:
            values = plain_array(t)
            if values is None:  # a type numpy lacks (bfloat16, float8 …): onnx decodes it
                from onnx import numpy_helper

                values = numpy_helper.to_array(t)
            return np.asarray(values, dtype=np.float64).ravel()
        except (ValueError, TypeError):
            return None

    def uses(self, name: str) -> Iterator[tuple[NodeProto, str, bool]]:
        """(node, the tensor it reads, whether an int Cast was passed) for the first ops past
        the pass-through ones that read ``name``'s values."""
        seen = {name}
        todo = [(name, 0, False)]
        while todo:
            tensor, hops, cast_to_int = todo.pop()
            for node in self.consumers.get(tensor, ()):
                carried = node.input[0] == tensor if node.input else False
                if node.op_type in PASS_THROUGH and carried and hops < MAX_HOPS:
                    to_int = cast_to_int or (node.op_type == "Cast" and _casts_to_int(node))
                    for out in node.output[:1]:
                        if out and out not in seen:
                            seen.add(out)
                            todo.append((out, hops + 1, to_int))
                else:
                    yield node, tensor, cast_to_int


def _casts_to_int(node: NodeProto) -> bool:
    for a in node.attribute:
        if a.name == "to":
            name = TensorProto.DataType.Name(a.i)
            return name.startswith(("INT", "UINT"))
    return False


def _attr(node: NodeProto, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def _id_bound(graph: _Graph, name: str) -> tuple[int, str] | None:
    """(number of valid ids, why) when ``name`` indexes a table or a one-hot encoding."""
    bounds: list[tuple[int, str]] = []
    for node, tensor, _ in graph.uses(name):
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == tensor:
            dims = graph.dims(node.input[0])
            axis = _attr(node, "axis", 0)
            if dims and -len(dims) <= axis < len(dims) and dims[axis]:
                rows = int(dims[axis])  # type: ignore[arg-type]
                bounds.append((rows, f"Gather on {node.input[0]} ({rows} rows)"))
        elif node.op_type == "OneHot" and node.input and node.input[0] == tensor:
            depth = graph.value(node.input[1]) if len(node.input) > 1 else None
            if depth is not None and depth.size == 1 and depth[0] >= 1:
                bounds.append((int(depth[0]), f"OneHot of depth {int(depth[0])}"))
    return min(bounds) if bounds else None


def _pixel_scale(graph: _Graph, name: str) -> str:
    """Why ``name`` looks like raw 0..255 pixels ("" when nothing says so)."""
    for node, tensor, _ in graph.uses(name):
        if len(node.input) < 2 or node.input[0] != tensor:
            continue
        other = graph.value(node.input[1])
        if other is None or other.size == 0 or other.size > 4:
            continue
        if node.op_type == "Div" and np.all((other >= 100) & (other <= 256)):
            return f"its graph divides it by {other[0]:g} first ({node.name or node.op_type})"
        if node.op_type == "Mul" and np.all((other > 0.003) & (other <= 0.01)):
            return f"its graph multiplies it by {other[0]:.4g} first ({node.name or node.op_type})"
        if node.op_type == "Sub" and np.all((other >= 10) & (other <= 256)):
            return (
                f"its graph subtracts a mean of pixel scale ({', '.join(f'{v:g}' for v in other)})"
                f" first ({node.name or node.op_type})"
            )
    return ""


#: Input names that say "image" whatever the shape.
IMAGE_NAME = re.compile(
    r"^(images?|imgs?|pixel_values|input_images?|input_image_?\d*|image_?tensor|photo|frames?)$",
    re.I,
)


def image_like(name: str, dtype: str, dims: Sequence[int | None] | None) -> bool:
    """A float input that holds images: named like one, or 4-D with 1 or 3 channels fixed
    first (N, C, H, W) or last (N, H, W, C)."""
    if dtype not in ("FLOAT", "FLOAT16", "DOUBLE", "BFLOAT16"):
        return False
    if IMAGE_NAME.match(name):
        return True
    return dims is not None and len(dims) == 4 and (dims[1] in (1, 3) or dims[3] in (1, 3))


def value_hints(model: ModelProto, inferred: Inferred = None) -> tuple[tuple[str, ValueHint], ...]:
    """Evidence-based values for the graph inputs it can say something about (the module
    docstring); ``inferred``: the model with shape inference's value_info (table sizes), or a
    function that makes it, called only if a table's size is not known without it."""
    graph = _Graph(model, inferred)
    out: dict[str, ValueHint] = {}
    for v in model.graph.input:
        if v.name in graph.tensors or v.type.WhichOneof("value") != "tensor_type":
            continue
        dtype = TensorProto.DataType.Name(v.type.tensor_type.elem_type)
        integer = dtype.startswith(("INT", "UINT"))
        bound = _id_bound(graph, v.name)
        cast_to_int = any(cast for _, _, cast in graph.uses(v.name))
        if bound is not None and (integer or cast_to_int):
            rows, why = bound
            out[v.name] = ValueHint(
                0, rows - 1, f"ids within the table: 0..{rows - 1} ({why})", integers=True
            )
            continue
        shape = v.type.tensor_type.shape
        dims = (
            [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]
            if v.type.tensor_type.HasField("shape")
            else None
        )
        if image_like(v.name, dtype, dims):
            raw = _pixel_scale(graph, v.name)
            if raw:
                out[v.name] = ValueHint(0, 255, f"pixel values 0..255: {raw}")
    return tuple(sorted(out.items()))


__all__ = ["ValueHint", "image_like", "value_hints"]

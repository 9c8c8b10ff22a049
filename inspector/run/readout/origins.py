"""Map the kernels ONNX Runtime ran back to the original nodes they compute.

ORT rewrites the graph before it runs it: it fuses nodes (``x/QuickGeluFusion/``,
``fused mm1/MatMulAddFusion``, ``x/LayerNormFusion/``), converts layouts (NCHWc nodes named
``<tensor>_nchwc`` that write ``reorder_token_N`` tensors between ``ReorderInput`` and
``ReorderOutput``), inserts nodes of its own (Reshapes around a 3-D Gemm, Q/DQ pairs, precision
Casts, Memcpy) and optimizes If/Loop/Scan bodies the same way. The profiler names the kernels of
that graph. Every kernel here gets either the original nodes it computes or a reason why it
computes none, derived in three steps:

1. **Which runtime tensor holds which original tensor.** Tensors that kept their name; a
   Reorder's output is its input in another layout; a kernel that kept an original node's name
   and op type reads and writes that node's tensors; an NCHWc node named ``<t>_nchwc`` writes
   ``t`` (unless it fused an activation or a Sum) and reads what the first node it replaced read.
   Original tensors some runtime tensor holds are *alive*: they bound every fusion.
2. **Anchors and walks.** A kernel's name names the original node it started from (its own
   name; ``<node>/<Pass>…``; ``fused <node>``; ``<node>_token_N``; ``<t>_nchwc`` → t's producer).
   From its anchors (forward and back) and from the producers of the original tensors it writes
   (back), a kernel claims original nodes across dead tensors only, never another kernel's anchor.
   So a QuickGelu anchored at its Mul claims the Sigmoid, and the next Conv stops at that Mul.
3. **What is left.** Kernels connected through tensors no original tensor matches form a region
   (a Gemm and the Reshapes ORT put around it; a Split and the Squeezes that replaced Gathers).
   A data-movement kernel that claimed nothing is the runtime's own (``runtime``); a compute
   kernel that claimed nothing shares its region's nodes (``shared``); a region that claimed
   nothing and only moves values it was given is the runtime's own too.

The result is *derived* (by names and graph structure, not recorded by ORT) and labelled as
such wherever it is shown. Kinds: ``own`` (ran as itself), ``renamed`` (one original node under
another name), ``fused`` (several original nodes, its time split evenly over them), ``shared``
(original nodes it shares with other kernels: duplicated nodes, a fusion ORT spread over several
kernels), ``runtime`` (ORT's own work: no original node), ``unmapped`` (no origin found).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from inspector.model.proto import AttributeProto, GraphProto, ModelProto, NodeProto
from inspector.records import Record

LAYOUT_DOMAIN = "com.microsoft.nchwc"
REORDER_OPS = ("ReorderInput", "ReorderOutput")
CONTROL_FLOW_OPS = ("If", "Loop", "Scan")

#: Ops that only move, re-lay or re-type values: when ORT inserts one (layout Reorders, Reshapes
#: around a 3-D Gemm, Q/DQ pairs of QDQ propagation, precision Casts, device copies), it is the
#: runtime's work, shown as its own line and never spread onto original nodes.
DATA_MOVEMENT_OPS = frozenset(
    {
        *REORDER_OPS,
        "MemcpyToHost",
        "MemcpyFromHost",
        "Reshape",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Flatten",
        "Cast",
        "Identity",
        "QuantizeLinear",
        "DequantizeLinear",
    }
)

#: What each NCHWc op replaced (op types of the original node it starts from).
_NCHWC_OF = {
    "Conv": ("Conv", "FusedConv"),
    "MaxPool": ("MaxPool",),
    "AveragePool": ("AveragePool",),
    "GlobalMaxPool": ("GlobalMaxPool",),
    "GlobalAveragePool": ("GlobalAveragePool",),
    "Upsample": ("Resize", "Upsample"),
}

_TOKEN = re.compile(r"_token_\d+$")

#: Ops ORT removes as no-ops at inference (their kernels' time is not theirs to share).
NO_OP_OPS = frozenset({"Identity", "Dropout"})
#: Ops ORT removes when they do nothing (a Cast to the same type, a Sub of 0, a full Slice…):
#: a kernel that reads directly what its own original node read through them bypassed them.
REMOVABLE_OPS = frozenset(
    {
        *NO_OP_OPS,
        "Cast",
        "Slice",
        "Reshape",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "Flatten",
        "Expand",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "QuantizeLinear",
        "DequantizeLinear",
    }
)
#: Ops whose output changes from run to run: never folded into a constant.
_NOT_FOLDED = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}
)

Kind = str  # "own", "renamed", "fused", "shared", "runtime", "unmapped"


def is_layout_reorder(op_type: str) -> bool:
    """Whether a runtime node only converts between layouts (overhead, not model compute)."""
    return op_type in REORDER_OPS


@dataclass(frozen=True, kw_only=True)
class KernelOrigin(Record):
    """One kernel of a run's profile and the original nodes it computes (derived)."""

    kernel: str  # runtime node name, as the profiler names it
    op_type: str
    kind: str  # own, renamed, fused, shared, compiled, runtime, unmapped
    ids: tuple[str, ...]  # original node ids
    note: str = ""  # why a runtime or unmapped kernel has no original node


@dataclass
class Origins:
    """Per kernel (runtime node name): the original node ids it computes, and how (see the
    module docstring for the kinds; ``why`` says it in words for runtime/unmapped kernels)."""

    ids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kinds: dict[str, Kind] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)
    op_types: dict[str, str] = field(default_factory=dict)


def derive_origins(
    original: ModelProto,
    optimized: ModelProto,
    runtime_names: dict[str, str],
    limit: int = 10_000,
) -> dict[str, tuple[str, ...]]:
    """Runtime node name → original node ids, for every node of ``optimized`` (bodies too)."""
    return attribute(original, optimized, runtime_names, limit).ids


def attribute(
    original: ModelProto,
    optimized: ModelProto,
    runtime_names: Mapping[str, str],
    limit: int = 10_000,
) -> Origins:
    """Every kernel of ``optimized`` (main graph and If/Loop/Scan bodies) → its original nodes.

    ``original`` is the model the workers ran (every node uniquely named) and ``runtime_names``
    maps those names to node ids."""
    out = Origins()
    _scope(original.graph, optimized.graph, runtime_names, out, limit)
    return out


def _producers(graph: GraphProto) -> dict[str, int]:
    return {t: i for i, n in enumerate(graph.node) for t in n.output if t}


def _consumers(graph: GraphProto) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, n in enumerate(graph.node):
        for t in n.input:
            if t:
                out.setdefault(t, []).append(i)
    return out


def _attr(node: NodeProto, name: str) -> AttributeProto | None:
    return next((a for a in node.attribute if a.name == name), None)


class _Scope:
    """One original graph and the runtime graph ORT made of it."""

    def __init__(self, g: GraphProto, h: GraphProto) -> None:
        self.g, self.h = g, h
        self.prod = _producers(g)
        self.cons = _consumers(g)
        self.by_name = {n.name: i for i, n in enumerate(g.node) if n.name}
        self.known = (
            set(self.prod)
            | set(self.cons)
            | {v.name for v in g.input}
            | {t.name for t in g.initializer}
        )
        self.alias: dict[str, str] = {}  # runtime tensor → original tensor
        self.folded = self._constant_nodes()

    def _constant_nodes(self) -> set[int]:
        """Nodes computed from constants only (Constant nodes and what depends on nothing
        else): ORT folds them into initializers from level basic on, so no kernel runs them
        (at disable_all they run as themselves and keep their own names)."""
        overridable = {v.name for v in self.g.input}
        const = {t.name for t in self.g.initializer} - overridable
        folded: set[int] = set()
        for _ in range(len(self.g.node) + 1):
            grew = False
            for i, n in enumerate(self.g.node):
                if i in folded or n.op_type in _NOT_FOLDED or n.op_type in CONTROL_FLOW_OPS:
                    continue
                ins = [t for t in n.input if t]
                if (n.op_type == "Constant" or ins) and all(t in const for t in ins):
                    folded.add(i)
                    const.update(t for t in n.output if t)
                    grew = True
            if not grew:
                break
        return folded

    def eff(self, t: str) -> str | None:
        return t if t in self.known else self.alias.get(t)

    def link(self, runtime: str, orig: str) -> bool:
        if not runtime or not orig or self.eff(runtime) or orig not in self.known:
            return False
        self.alias[runtime] = orig
        return True

    # -- anchors: the original node a kernel's name says it started from ----------------------

    def nchwc_target(self, node: NodeProto) -> str | None:
        """``t`` of an NCHWc node named ``<t>_nchwc`` (``<t>_bn_nchwc``: a BatchNormalization
        ORT turned into a depthwise NCHWc Conv)."""
        if node.domain != LAYOUT_DOMAIN:
            return None
        base = _TOKEN.sub("", node.name)
        for suffix in ("_bn_nchwc", "_nchwc"):
            if base.endswith(suffix) and base[: -len(suffix)] in self.prod:
                return base[: -len(suffix)]
        return None

    def nchwc_first(self, node: NodeProto, target: str) -> int | None:
        """The original node an NCHWc node replaced first (a Conv before its fused BN...)."""
        want = _NCHWC_OF.get(node.op_type, (node.op_type,))
        if _TOKEN.sub("", node.name).endswith("_bn_nchwc"):
            want = ("BatchNormalization",)
        i: int | None = self.prod[target]
        for _ in range(4):
            if i is None:
                return None
            n = self.g.node[i]
            if n.op_type in want:
                return i
            i = self.prod.get(n.input[0]) if n.input else None
        return None

    def nchwc_output(self, node: NodeProto, target: str) -> str:
        """The original tensor an NCHWc Conv writes: ``t`` of its name, or past the Add (its
        4th input, Sum) and the activation ORT fused into it after naming it."""
        t = target
        if len(node.input) > 3 and node.input[3]:
            other = self.eff(node.input[3])
            adds = [
                i
                for i in self.cons.get(t, ())
                if self.g.node[i].op_type in ("Add", "Sum") and other in self.g.node[i].input
            ]
            if len(adds) == 1 and self.g.node[adds[0]].output:
                t = self.g.node[adds[0]].output[0]
        activation = _attr(node, "activation")
        if activation is not None:
            op = activation.s.decode(errors="replace")
            users = self.cons.get(t, [])
            if len(users) == 1 and self.g.node[users[0]].op_type == op:
                t = self.g.node[users[0]].output[0]
        return t

    def anchors(self, node: NodeProto) -> set[int]:
        name = node.name
        if name in self.by_name:
            return {self.by_name[name]}
        target = self.nchwc_target(node)
        if target is not None:
            first = self.nchwc_first(node, target)
            return {self.prod[target]} | ({first} if first is not None else set())
        name = name.removeprefix("fused ")  # FusedGemm, FusedConv: "fused <node>..."
        if name in self.by_name:
            return {self.by_name[name]}
        base = _TOKEN.sub("", name)
        if base != name and base in self.by_name and base != node.op_type:
            return {self.by_name[base]}
        # "<node>/<Pass>Fusion/...": the longest prefix ending before a "/" that names a node.
        cut = name.rfind("/")
        while cut > 0:
            if name[:cut] in self.by_name:
                return {self.by_name[name[:cut]]}
            cut = name.rfind("/", 0, cut)
        return set()

    # -- step 1: which runtime tensor holds which original tensor -----------------------------

    def infer_aliases(self) -> None:
        for _ in range(8):  # to a fixpoint; each pass is linear in the graph
            changed = False
            for node in self.h.node:
                changed |= self._infer(node)
            if not changed:
                return

    def _infer(self, node: NodeProto) -> bool:
        changed = False
        if node.op_type in REORDER_OPS and node.input and node.output:
            src, dst = node.input[0], node.output[0]
            s, d = self.eff(src), self.eff(dst)
            if s and not d:
                changed |= self.link(dst, s)
            elif d and not s:
                changed |= self.link(src, d)
            return changed
        target = self.nchwc_target(node)
        if target is not None:
            first = self.nchwc_first(node, target)
            if first is not None and node.input:
                changed |= self.link(node.input[0], self.g.node[first].input[0])
            if len([o for o in node.output if o]) == 1:
                changed |= self.link(node.output[0], self.nchwc_output(node, target))
            return changed
        twin = self._twin(node)
        if twin is not None:
            for mine, theirs in zip(node.input, twin.input, strict=False):
                changed |= self.link(mine, theirs)
            for mine, theirs in zip(node.output, twin.output, strict=False):
                changed |= self.link(mine, theirs)
        return changed

    def _twin(self, node: NodeProto) -> NodeProto | None:
        """The original node this kernel is, under its name or a duplicate's name, with the
        same op type: it reads and writes that node's tensors."""
        name = node.name
        for candidate in (name, name.split("/duplicated")[0] if "/duplicated" in name else ""):
            i = self.by_name.get(candidate)
            if i is not None and self.g.node[i].op_type == node.op_type:
                return self.g.node[i]
        return None


def _scope(
    g: GraphProto,
    h: GraphProto,
    names: Mapping[str, str],
    out: Origins,
    limit: int,
) -> None:
    s = _Scope(g, h)
    s.infer_aliases()
    _Claims(s, limit).settle(names, out)
    # Bodies of If/Loop/Scan: ORT optimizes them too; the body keeps its parent's name.
    for kernel in h.node:
        i = s.by_name.get(kernel.name)
        if i is None:
            continue
        bodies = {a.name: a.g for a in g.node[i].attribute if a.type == AttributeProto.GRAPH}
        for a in kernel.attribute:
            if a.type == AttributeProto.GRAPH and a.name in bodies:
                _scope(bodies[a.name], a.g, names, out, limit)


class _Claims:
    """Steps 2 and 3 for one scope (see the module docstring)."""

    def __init__(self, s: _Scope, limit: int) -> None:
        self.s, self.limit = s, limit
        h = s.h
        self.kernels = list(h.node)
        self.alive = {s.eff(t) for n in h.node for t in (*n.input, *n.output) if t} - {None}
        self.alive |= {v.name for v in (*h.input, *h.output)} | {t.name for t in h.initializer}
        self.reads = [{s.eff(t) or "" for t in k.input} - {""} for k in self.kernels]
        self.writes = [{s.eff(t) or "" for t in k.output} - {""} for k in self.kernels]
        self.region = self._regions()
        self.groups: dict[int, list[int]] = {}
        for k, root in enumerate(self.region):
            self.groups.setdefault(root, []).append(k)
        self.anchors = [s.anchors(k) for k in self.kernels]
        self.owner: dict[int, set[int]] = {}
        for k, nodes in enumerate(self.anchors):
            for i in nodes:
                self.owner.setdefault(i, set()).add(k)
        self.claims: list[set[int]] = [set(a) for a in self.anchors]
        self.taken: set[int] = set(self.owner)
        self.glue = {k for k in range(len(self.kernels)) if self._is_glue(k)}
        self.removed = [self._bypassed(k) for k in range(len(self.kernels))]
        # Anchored kernels first: what a kernel's name says it started from is the surest sign.
        for k in range(len(self.kernels)):
            if self.anchors[k] and k not in self.glue:
                self._back(k, self.anchors[k])
                self._forward(k, self.anchors[k])
        self.taken = {i for c in self.claims for i in c}
        for k in range(len(self.kernels)):
            if k in self.glue:
                continue
            # A kernel that writes what another kernel's anchor wrote computes it too (a Squeeze
            # after the Split that replaced Gathers): it shares that node.
            starts = [s.prod[t] for t in self.writes[k] - self.reads[k] if t in s.prod]
            for i in starts:
                if i in self.owner and i not in s.folded:
                    self.claims[k].add(i)
            self._back(k, starts)

    def _regions(self) -> list[int]:
        """Region id per kernel: kernels joined by tensors no original tensor matches."""
        parent = list(range(len(self.kernels)))

        def find(k: int) -> int:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        writer = {t: k for k, n in enumerate(self.kernels) for t in n.output if t}
        for k, n in enumerate(self.kernels):
            for t in n.input:
                if t in writer and not self.s.eff(t):
                    parent[find(k)] = find(writer[t])
        return [find(k) for k in range(len(self.kernels))]

    def members(self, k: int) -> list[int]:
        """The kernels of ``k``'s region (``k`` included)."""
        return self.groups[self.region[k]]

    def _is_glue(self, k: int) -> bool:
        """Data movement ORT inserted: no name of an original node, and its region only moves
        values it was given (Reorders, Reshapes between layouts, Q/DQ pairs it propagated)."""
        kernel = self.kernels[k]
        if kernel.op_type in REORDER_OPS or kernel.name.startswith("InsertedPrecisionFreeCast"):
            return True
        if self.anchors[k] or kernel.op_type not in DATA_MOVEMENT_OPS:
            return False
        group = self.members(k)
        if any(self.anchors[m] or self.kernels[m].op_type not in DATA_MOVEMENT_OPS for m in group):
            return False
        return self._moves_only(group)

    def _moves_only(self, group: list[int]) -> bool:
        """Whether kernels ``group`` only pass on values they were given (each original
        tensor they write is one they read, in another layout, shape or precision)."""
        inside = {t for m in group for t in self.kernels[m].output}
        read = {self.s.eff(t) for m in group for t in self.kernels[m].input if t not in inside}
        wrote = {self.s.eff(t) for m in group for t in self.kernels[m].output} - {None}
        return wrote <= read

    def _bypassed(self, k: int) -> set[int]:
        """Nodes ORT removed in front of kernel ``k`` (a Cast to the same type, a Sub of 0…):
        ``k`` is an original node under its own name and op type, and reads directly what it
        read through them. They ran nowhere, so ``k`` does not claim them."""
        s = self.s
        twin = s._twin(self.kernels[k])
        if twin is None:
            return set()
        out: set[int] = set()
        for mine, theirs in zip(self.kernels[k].input, twin.input, strict=False):
            got = s.eff(mine)
            chain: list[int] = []
            t = theirs
            while t and t != got and t in s.prod and len(chain) < 8:
                p = s.prod[t]
                n = s.g.node[p]
                if n.op_type not in REMOVABLE_OPS or t in self.alive or not n.input:
                    chain = []
                    break
                chain.append(p)
                t = n.input[0]
            if chain and t == got:
                out.update(chain)
        return out

    def free(self, i: int, k: int) -> bool:
        """Whether kernel ``k`` may claim node ``i``: not another kernel's anchor, nor claimed
        by another kernel from its anchors (those walks go first), nor a node no kernel runs
        (folded into a constant, or removed in front of it)."""
        if i in self.claims[k]:
            return True
        return (
            i not in self.owner
            and i not in self.taken
            and i not in self.s.folded
            and i not in self.removed[k]
        )

    def passes(self, i: int) -> bool:
        """A no-op (Identity, Dropout) a walk passes through without claiming it."""
        return i not in self.owner and self.s.g.node[i].op_type in NO_OP_OPS

    def _back(self, k: int, starts: Iterable[int]) -> None:
        s, stop = self.s, self.reads[k] - self.writes[k]
        stack, seen = list(starts), set[int]()
        while stack and len(seen) < self.limit:
            i = stack.pop()
            if i in seen or not (self.free(i, k) or self.passes(i)):
                continue
            seen.add(i)
            if not self.passes(i):
                self.claims[k].add(i)
            for t in s.g.node[i].input:
                if t in s.prod and t not in stop and (t not in self.alive or t in self.writes[k]):
                    stack.append(s.prod[t])

    def _forward(self, k: int, starts: Iterable[int]) -> None:
        s = self.s
        stack, seen = list(starts), set[int]()
        while stack and len(seen) < self.limit:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            for t in s.g.node[i].output:
                if not t or t in self.alive:
                    continue
                for j in s.cons.get(t, ()):
                    if self.passes(j):
                        stack.append(j)
                    elif self.free(j, k):
                        self.claims[k].add(j)
                        stack.append(j)

    def settle(self, names: Mapping[str, str], out: Origins) -> None:
        """Step 3: kernels that claimed nothing; then each kernel's ids and kind."""
        s, kernels, claims = self.s, self.kernels, self.claims
        ids: list[set[int]] = [set(c) for c in claims]
        why: dict[int, str] = {}
        for k, kernel in enumerate(kernels):
            if claims[k]:
                continue
            group = self.members(k)
            region_claims = {i for m in group for i in claims[m]}
            if k in self.glue or kernel.op_type in DATA_MOVEMENT_OPS:
                why[k] = _runtime_reason(kernel)
            elif region_claims:
                ids[k] = set(region_claims)  # a compute kernel sharing its region's work
            elif self._moves_only(group):
                why[k] = f"{kernel.op_type} ONNX Runtime inserted (on values it was given)"
            else:
                why[k] = "no original node found for it (derived by tensor names)"
        count: dict[int, int] = {}
        for c in ids:
            for i in c:
                count[i] = count.get(i, 0) + 1
        for k, kernel in enumerate(kernels):
            name = kernel.name
            out.op_types[name] = kernel.op_type
            got = tuple(sorted((names[s.g.node[i].name] for i in ids[k]), key=_id_key))
            out.ids[name] = got
            if not got:
                out.kinds[name] = "unmapped" if why[k].startswith("no original") else "runtime"
                out.why[name] = why[k]
            elif any(count[i] > 1 for i in ids[k]):
                out.kinds[name] = "shared"
            elif len(got) > 1:
                out.kinds[name] = "fused"
            elif s.g.node[next(iter(ids[k]))].name == name:
                out.kinds[name] = "own"
            else:
                out.kinds[name] = "renamed"


def _runtime_reason(node: NodeProto) -> str:
    op = node.op_type
    if op in REORDER_OPS:
        return "layout conversion ONNX Runtime inserted (NCHWc)"
    if op.startswith("Memcpy"):
        return "copy between devices ONNX Runtime inserted"
    if op == "Cast":
        return "precision cast ONNX Runtime inserted"
    if op in ("QuantizeLinear", "DequantizeLinear"):
        return f"{op} ONNX Runtime inserted (QDQ propagation)"
    return f"{op} ONNX Runtime inserted (moves or re-shapes values between kernels)"


def _id_key(node_id: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[:.]", node_id))


def compiled_origins(
    assignment: Iterable[tuple[str, str]], runtime_names: dict[str, str]
) -> dict[str, tuple[str, ...]]:
    """EP name → original node ids it compiled (from the EP assignment record)."""
    by_ep: dict[str, list[str]] = {}
    for node, ep in assignment:
        if node in runtime_names:
            by_ep.setdefault(ep, []).append(runtime_names[node])
    return {ep: tuple(ids) for ep, ids in by_ep.items()}


def kernel_origins(
    attribution: Origins | None,
    profiled: Iterable[tuple[str, str, str]],
    compiled: Mapping[str, tuple[str, ...]],
    runtime_names: Mapping[str, str],
) -> tuple[KernelOrigin, ...]:
    """A :class:`KernelOrigin` per kernel of the optimized graph and per profiled kernel
    (``(name, op_type, ep)``) it lacks: an EP-compiled subgraph's one event stands for every
    node that EP took; without an optimized graph (an EP compiled part of it) a kernel under an
    original node's name is that node."""
    out: dict[str, KernelOrigin] = {}
    if attribution is not None:
        for name, ids in attribution.ids.items():
            out[name] = KernelOrigin(
                kernel=name,
                op_type=attribution.op_types.get(name, ""),
                kind=attribution.kinds.get(name, "unmapped"),
                ids=ids,
                note=attribution.why.get(name, ""),
            )
    for name, op_type, ep in profiled:
        if name in out:
            continue
        if name in runtime_names:
            out[name] = KernelOrigin(
                kernel=name, op_type=op_type, kind="own", ids=(runtime_names[name],)
            )
        elif ep in compiled and name.startswith(ep):
            out[name] = KernelOrigin(
                kernel=name,
                op_type=op_type,
                kind="compiled",
                ids=compiled[ep],
                note=f"one event for every node {ep} compiled",
            )
        else:
            out[name] = KernelOrigin(
                kernel=name,
                op_type=op_type,
                kind="unmapped",
                ids=(),
                note="not in the optimized graph ONNX Runtime saved",
            )
    return tuple(out.values())


def display_names(
    original: ModelProto,
    runtime_names: Mapping[str, str],
    wanted: Iterable[str],
    shown: Mapping[str, str] | None = None,
) -> tuple[tuple[str, str, str], ...]:
    """``(id, name, op_type)`` of the original nodes ``wanted``: the name the model gave the
    node (``shown``, by id), "" where it gave none. Without ``shown``: the runtime name, unless
    the run lab made it up (``<op>__<id>``)."""
    from inspector.model.walk import walk

    want = set(wanted)
    by_id = {nid: name for name, nid in runtime_names.items() if nid in want}
    out = []
    for scope in walk(original).scopes:
        for i, node in enumerate(scope.nodes):
            nid = scope.node_id(i)
            if nid not in by_id:
                continue
            if shown is not None:
                out.append((nid, shown.get(nid, ""), node.op_type))
                continue
            name = by_id[nid]
            generated = name.startswith(f"{node.op_type}__{nid}")
            out.append((nid, "" if generated else name, node.op_type))
    return tuple(sorted(out, key=lambda row: _id_key(row[0])))

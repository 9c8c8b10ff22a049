"""Why an EP took what it took: what ONNX Runtime and plugin EPs log while a session is set up,
read into per-EP, per-op-type records.

The worker captures its stdout and stderr from plugin registration through the first run
(:func:`log_lines` keeps the lines that carry partitioning: ONNX Runtime's warnings and errors,
a plugin's own warnings, errors and lines about the nodes it claims, and lines in no known
format) and hands them over in ``result.json``; the parent bounds them again (:func:`bounded`)
and :func:`ep_reports` combines them with the EP assignment, which says what each EP really took.

Measured with onnxruntime 1.30 and onnxruntime-ggml 0.2.0 (``partial=1``): on a YOLOv8n detector
ggml logs through ORT's logger (severity WARNING, which the worker now asks for) "onnxruntime-ggml:
3 of 316 nodes use ops this provider lacks: MaxPool x3; partial claim", on its own (Rust tracing
to stderr, whatever ORT's severity) "INFO capability: nodes claimed for fusion claimed=313
total=316", and ORT then logs an ERROR: the claimed nodes "cannot be fused together" (a node ggml
lacks lies on a path between two it claimed), so ggml gets none. Without ``partial=1`` it logs
"…; claiming nothing (set partial=1 to override)". A QDQ 2-D Conv is claimed and fails on the
first run ("unsupported: Conv(Conv_0): only 1-D convolutions"): :func:`failing_ep` tells such an
EP failure from other errors.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inspector.records import Record
from inspector.safe_text import terminal

CPU = "CPUExecutionProvider"
#: Longest log line kept (ORT's own lines are under 400 characters).
MAX_LINE_CHARS = 2000

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: ORT's default sink: ``2026-12-05 19:32:34.414853652 [W:onnxruntime:, file.cc:12 Fn] text``.
_ORT_RAW = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \[([VIWEF]):onnxruntime:[^,\]]*, ?([^\]]*)\] ?"
)
#: Rust ``tracing`` (ggml): ``2026-12-05T19:32:33.785381Z  WARN capability: …``.
_TRACING_RAW = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s+")
#: The kept lines: ``W [where] text`` (ORT) and ``WARN text`` (a plugin's own).
_ORT = re.compile(r"^([WEF]) \[([^\]]*)\] (.*)$")
_PLUGIN = re.compile(r"^(INFO|WARN|ERROR) (.*)$")
#: A plugin's INFO line kept because it says what the EP claims.
_ABOUT_NODES = re.compile(r"claim|capabilit|unsupported|fall ?back|lacks|not supported", re.I)

_LACKS = re.compile(r"(\d+) of (\d+) nodes use ops (?:this provider|it) lacks: ([^;]+)")
_OP_COUNT = re.compile(r"([A-Za-z][\w.:]*) x(\d+)")
_CLAIMED = re.compile(r"claimed=(\d+) total=(\d+)")
_NOT_FUSED = "cannot be fused together"
_NOTHING = "claiming nothing"
#: ORT's message when a compiled (EP) kernel fails: the kernel is named after its EP.
_RUNNING = re.compile(
    r"while running (\S+) node\.(?: Name:'[^']*')?(?: Status Message: (.*))?", re.S
)
#: ``Conv(Conv_0)``: an op and a node, as EPs name the node they fail on.
_OP_NODE = re.compile(r"\b([A-Z][A-Za-z0-9_]*)\(([^()\s,][^(),]*)\)")


def log_lines(raw: str, max_lines: int, max_bytes: int) -> list[str]:
    """The lines of a session's captured output worth keeping, at most ``max_lines`` and
    ``max_bytes``: colour codes and timestamps gone, ORT's lines at WARNING or worse as
    ``W [where] text``, a plugin's tracing lines at WARN or worse (and INFO ones about what it
    claims) as ``WARN text``, and every line in no known format (a plugin's own prints, Python
    warnings) as it is."""
    kept: list[str] = []
    for line in _ANSI.sub("", raw).splitlines():
        line = line.rstrip()
        if not line.strip():
            continue
        m = _ORT_RAW.match(line)
        if m:
            if m.group(1) in "VI":
                continue
            line = f"{m.group(1)} [{m.group(2)}] {line[m.end() :]}"
        else:
            t = _TRACING_RAW.match(line)
            if t:
                level, text = t.group(1), line[t.end() :]
                if level in ("TRACE", "DEBUG") or (
                    level == "INFO" and not _ABOUT_NODES.search(text)
                ):
                    continue
                line = f"{level} {text}"
        kept.append(line)
    return list(bounded(kept, max_lines, max_bytes))


def bounded(lines: object, max_lines: int, max_bytes: int) -> tuple[str, ...]:
    """``lines`` as the parent keeps them: strings only (else TypeError: not what a worker
    writes), control characters escaped, each at most MAX_LINE_CHARS, at most ``max_lines``
    lines and ``max_bytes`` bytes; a last line says how many were left out."""
    if not isinstance(lines, (list, tuple)) or not all(isinstance(x, str) for x in lines):
        raise TypeError("ep_log is not a list of strings")
    out: list[str] = []
    size = 0
    for line in lines:
        text = terminal(line[:MAX_LINE_CHARS])
        if len(out) >= max_lines or size + len(text.encode()) > max_bytes:
            break
        if text.startswith("… ") and text.endswith("(max_ep_log_lines, max_ep_log_bytes)"):
            continue  # the worker's own marker: recounted here
        out.append(text)
        size += len(text.encode()) + 1
    left = len(lines) - len(out)
    if left > 0:
        out.append(f"… {left} more lines not kept (max_ep_log_lines, max_ep_log_bytes)")
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class OpClaim(Record):
    """One op type and one EP: how many of its nodes the EP took, and why not the rest."""

    op_type: str
    nodes: int  # nodes of this op type in the EP assignment (or in the EP's own count)
    taken: int  # of them, those the EP ran
    status: str  # "claimed", "partly claimed", "not claimed", "claimed, refused" (by ORT)
    reason: str = ""  # why not, where the EP's log says ("" when it does not)


@dataclass(frozen=True, kw_only=True)
class EpReport(Record):
    """A requested EP other than CPU in one configuration: what it took, and why."""

    ep: str
    took: int  # nodes it ran, from the EP assignment
    total: int  # nodes in the EP assignment (0: no session)
    why: str  # one line: "ggml took no node: …", "ggml took 3 of 4 nodes", "ggml failed …"
    reason: str = ""  # the EP's own words from its log, or the note that explains it
    source: str = ""  # where the reason came from: "log", "note", "error" or "" (none)
    failed_node: str = ""  # the node it claimed and could not run (an EP failure)
    ops: tuple[OpClaim, ...] = ()
    lines: tuple[str, ...] = ()  # the log lines that name it (or its plugin's own lines)

    @property
    def took_nothing(self) -> bool:
        return self.total > 0 and self.took == 0


def _names(ep: str) -> tuple[str, ...]:
    short = ep.removesuffix("ExecutionProvider")
    return (ep, short) if short != ep else (ep,)


def names_ep(text: str, ep: str) -> bool:
    """Whether ``text`` names ``ep`` as a word (``onnxruntime-ggml`` names ggml)."""
    return any(
        re.search(rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])", text, re.I) for n in _names(ep)
    )


def _lines_of(ep: str, lines: Sequence[str], only_plugin: bool) -> list[str]:
    """The lines about ``ep``: those that name it, and — when it is the only plugin-like EP
    asked for — a plugin's own lines (ggml's tracing lines do not name it)."""
    return [
        line
        for line in lines
        if names_ep(line, ep) or (only_plugin and not _ORT.match(line) and line.strip())
    ]


def _text(line: str) -> str:
    m = _ORT.match(line) or _PLUGIN.match(line)
    return m.group(m.lastindex or 0) if m else line


def _own_words(text: str, ep: str) -> str:
    """``onnxruntime-ggml: 3 of …`` → ``3 of …``."""
    head, sep, rest = text.partition(": ")
    return rest if sep and names_ep(head, ep) and " " not in head else text


def _cause(ep: str, lines: Sequence[str]) -> tuple[str, str, Counter[str]]:
    """``(why it took nothing, its words, the op types it lacks)`` from its lines."""
    short = ep.removesuffix("ExecutionProvider")
    lacks: Counter[str] = Counter()
    said = ""
    for line in lines:
        m = _LACKS.search(line)
        if m:
            for op, n in _OP_COUNT.findall(m.group(3)):
                lacks[op] = max(lacks[op], int(n))
            # Its message through ORT's logger says what it did about it (claiming nothing).
            if not said or (_ORT.match(line) and not _ORT.match(said)):
                said = _own_words(_text(line), ep)
    refused = next((ln for ln in lines if _NOT_FUSED in ln), "")
    if refused:
        claimed = next((m for ln in lines if (m := _CLAIMED.search(ln))), None)
        what = (
            f"it claimed {claimed.group(1)} of {claimed.group(2)} nodes"
            if claimed
            else ("it claimed nodes")
        )
        between = f" ({_ops_text(lacks)})" if lacks else ""
        return (
            f"{what} but ONNX Runtime refused the claim: they cannot be fused together, as "
            f"nodes {short} does not take{between} lie on paths between them",
            _text(refused),
            lacks,
        )
    if said:
        return said, said, lacks
    warned = [
        ln for ln in lines if ln[:2] in ("W ", "E ", "F ") or ln.startswith(("WARN", "ERROR"))
    ]
    if warned:
        return f"it logged: {_own_words(_text(warned[0]), ep)}", _text(warned[0]), lacks
    return "", "", lacks


def _ops_text(ops: Counter[str]) -> str:
    return ", ".join(f"{op} x{n}" for op, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))


def ep_reports(
    requested: Sequence[str],
    assignment: Iterable[tuple[str, str]],
    lines: Sequence[str],
    notes: Sequence[str] = (),
    failure: tuple[str, str, str] | None = None,
) -> tuple[EpReport, ...]:
    """One report per requested EP other than CPU. ``assignment``: ``(op_type, ep)`` per node
    as ONNX Runtime assigned them; ``lines``: the configuration's EP log; ``notes``: the run's
    notes (an EP that lists no device is explained there); ``failure``: ``(ep, node, message)``
    of an EP failure (:func:`failing_ep`)."""
    rows = list(assignment)
    per_op = Counter(op for op, _ in rows)
    eps = [e for e in dict.fromkeys(requested) if e != CPU]
    out = []
    for ep in eps:
        short = ep.removesuffix("ExecutionProvider")
        mine = _lines_of(ep, lines, only_plugin=len(eps) == 1)
        took_ops = Counter(op for op, where in rows if where == ep)
        took, total = sum(took_ops.values()), len(rows)
        cause, said, lacks = _cause(ep, mine)
        source = "log" if said else ""
        failed_node = ""
        if failure and failure[0] == ep:
            failed_node = failure[1]
            where = f"node {failure[1]}, which it had" if failure[1] else "nodes it had"
            why = f"{short} failed on {where} claimed: {failure[2]}"
            reason, source = failure[2], "error"
        elif total and not took:
            if not cause:
                note = next((n for n in notes if names_ep(n, ep) and "requested" in n), "")
                if note:
                    cause = re.sub(r"^\S+ requested(?::| but)\s*", "", note.split(" (")[0])
                    said, source = note, "note"
            why = f"{short} took no node: " + (
                cause or f"it claimed none of the {total} nodes (it logged nothing about why)"
            )
            reason = said
        elif total:
            why = f"{short} took {took} of {total} nodes"
            if lacks:
                why += f"; it lacks {_ops_text(lacks)}"
            reason = said
        else:  # no session: what its log says, if anything
            why = f"{short}: {cause}" if cause else ""
            reason = said
        if not (total and not took and cause):
            whole = ""
        elif _NOT_FUSED in said:  # it claimed this op's nodes with the rest
            whole = f"ONNX Runtime refused {short}'s whole claim (see above)"
        elif _NOTHING in said:
            whole = f"{short} claimed nothing, as it lacks other ops of the graph"
        else:
            whole = f"{short} took no node (see above)"
        ops = []
        # The ops it lacks first, then the rest it did not take, then those it took.
        order = sorted(set(per_op) | set(lacks), key=lambda o: (o not in lacks, o in took_ops, o))
        for op in order:
            n, k = per_op.get(op, lacks.get(op, 0)), took_ops.get(op, 0)
            status = "claimed" if n and k == n else "partly claimed" if k else "not claimed"
            why_op = ""
            if k < n:
                if op in lacks:
                    why_op = f"{short} lacks this op (its log)"
                else:
                    why_op = whole
                    if whole and _NOT_FUSED in said and not k:
                        status = "claimed, refused"
            ops.append(OpClaim(op_type=op, nodes=n, taken=k, status=status, reason=why_op))
        out.append(
            EpReport(
                ep=ep,
                took=took,
                total=total,
                why=why,
                reason=reason,
                source=source,
                failed_node=failed_node,
                ops=tuple(ops),
                lines=tuple(mine),
            )
        )
    return tuple(out)


def failing_ep(message: str, eps: Sequence[str], stage: str) -> str:
    """The requested EP (not CPU) that an error blames, "" when none: its compiled kernel
    failed on a run (ORT names the kernel after the EP), or session creation failed with a
    message that names it."""
    others = [e for e in eps if e != CPU]
    m = _RUNNING.search(message)
    if m:
        kernel = m.group(1).lower()
        for ep in others:
            if any(kernel.startswith(n.lower()) for n in _names(ep)):
                return ep
    if stage == "create session":
        for ep in others:
            if names_ep(message, ep):
                return ep
    return ""


def failure_detail(message: str) -> tuple[str, str, str]:
    """``(op type, node, the EP's message)`` from an EP failure's error text (what ORT quotes
    after "Status Message:", or OpenVINO's own words without its source locations; the node
    and op where the EP names one as ``Conv(Conv_0)`` or ``ONNX node '<Node(If): If_32>'``)."""
    m = _RUNNING.search(message)
    detail = openvino_words(m.group(2) if m and m.group(2) else message).strip()
    # ggml repeats its prefix: "model: Conv(Conv_0): model: Conv(Conv_0): unsupported: …".
    detail = re.sub(r"^(.{4,200}?: )\1+", r"\1", detail)
    found = _ONNX_NODE.search(detail) or _OP_NODE.search(detail)
    return (found.group(1), found.group(2), detail) if found else ("", "", detail)


#: OpenVINO's EP prefixes its own message with this; before it ONNX Runtime puts the C++
#: source location and signature of the backend that threw (~1,000 characters).
_OV_PREFIX = "[OpenVINO-EP] "
#: Fragments of OpenVINO's exception chain that only say where it was thrown.
_OV_WHERE = re.compile(
    r"Exception from \S+:\d+:\s*|Check '.*?' failed at \S+:\d+:\s*|"
    r"While validating node 'opset\d+::.*?' with friendly_name '[^']*':\s*|"
    r"FrontEnd API failed with \w+:\s*"
)
#: OpenVINO's ONNX frontend names the ONNX node it could not translate.
_ONNX_NODE = re.compile(r"ONNX node '<Node\(([\w.:]+)\): ([^>]+)>'")


def openvino_words(message: str) -> str:
    """OpenVINO's own words from an error ONNX Runtime raised for it, on one line: what it was
    doing and why it failed, without ONNX Runtime's backtrace or OpenVINO's source locations.
    Measured on real exports (OpenVINO EP, ONNX Runtime 1.24, AMD EPYC): a TTS export's
    "Exception while Loading Network for graph …subgraph_64_63: Exception from
    src/inference/src/cpp/core.cpp:114: … Check '!shape.rank().is_dynamic()' failed at …:
    Unexpected: CPU plug-in doesn't support Parameter operation with dynamic rank. Operation
    name: /decoder/decoder/generator/STFT_output_0" becomes its first and last sentences.
    Any other message is returned as it is."""
    if _OV_PREFIX not in message:
        return message
    text = _OV_WHERE.sub("", message.split(_OV_PREFIX, 1)[1])
    return " ".join(text.split())

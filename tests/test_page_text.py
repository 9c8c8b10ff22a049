"""Issue 22, Markdown injection: every string a file supplies (a model, a bundle, a profile) is
shown as text. Streamlit renders Markdown in titles, captions, alerts, button/tab/expander
labels and more: a bundle's configuration label once made an image load from another host and
a live "Sign in again" link appear. So every such call in ``pages/`` and ``app.py`` must pass
only constant text, numbers, or values escaped by ``pages.common.text.plain`` — checked here
statically, so a new call site cannot forget it; the browser test in ``tests/test_bundle.py``
drops a bundle full of injection strings and checks the pages."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Streamlit calls whose first argument (or ``label``/``body``/``help``) renders Markdown.
MARKDOWN = {
    "title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
    "success", "write", "button", "download_button", "expander", "tabs", "radio", "checkbox",
    "toggle", "page_link", "metric", "popover", "toast", "status", "form_submit_button",
    "link_button", "text_input", "number_input", "selectbox", "multiselect", "slider",
    "file_uploader", "spinner", "progress", "segmented_control", "pills", "select_slider",
    "text_area",
}  # fmt: skip
#: Calls whose result is safe text: the escaper, and numbers.
SAFE_CALLS = {"plain", "len", "int", "human_bytes", "round", "sum", "float", "status_text"}
#: Values reviewed to be numbers or the app's own words, never a file's (file:expression).
REVIEWED = {
    "pages/common/overview/sections.py:ov.ir_version",
    "pages/common/overview/sections.py:external.errors",
    "pages/common/graph/draw.py:hops",
    "pages/common/graph/draw.py:note",
    "pages/3_Weights.py:label",
    "pages/4_Subgraphs.py:tree.max_depth",
    "pages/5_External_data.py:report.errors",
    "pages/common/job_panel.py:job.done / max(job.total, 1)",  # a number
    "pages/common/job_panel.py:label",  # one of two constants
    "pages/common/job_panel.py:job.done",
    "pages/common/job_panel.py:job.total",
    "pages/common/job_panel.py:job.unit",  # "configurations": set by the queue, not a model
    "pages/common/run_form.py:DEMO_SAMPLE",
    "pages/common/run_form.py:LIBRARIES_ENV",
    "pages/common/run_form.py:sym",
    "pages/common/run_form.py:label",
    "pages/common/run_form.py:help_text",
    "pages/common/compare/outputs.py:fd.checked_tensors",
    "pages/common/compare/graph.py:per_part",
    "pages/common/compare/graph.py:pages",
    "pages/common/diff/structure.py:diff.ir[0]",
    "pages/common/diff/structure.py:diff.ir[1]",
    "pages/common/diff/graphs.py:title",
    "pages/common/diff/graphs.py:note",
    "pages/common/picker.py:title",
    "pages/common/picker.py:path",
    "pages/common/picker.py:server.LIMITS_ERROR",
    "pages/common/tasks.py:running_text",
    "pages/common/tasks.py:ahead",
    "pages/common/tasks.py:doing",
}


def _safe(expr: ast.expr, where: str) -> bool:
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return expr.func.id in SAFE_CALLS
    if isinstance(expr, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant)
            or (
                isinstance(v, ast.FormattedValue)
                and (v.format_spec is not None or _safe(v.value, where))
            )
            for v in expr.values
        )
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _safe(expr.left, where) and _safe(expr.right, where)
    if isinstance(expr, ast.IfExp):
        return _safe(expr.body, where) and _safe(expr.orelse, where)
    if isinstance(expr, (ast.List, ast.Tuple)):
        return all(_safe(e, where) for e in expr.elts)
    if isinstance(expr, ast.BoolOp):
        return all(_safe(e, where) for e in expr.values)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        if expr.func.attr == "join":  # "sep".join(plain(x) for x in ...)
            arg = expr.args[0] if expr.args else None
            if isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
                return _safe(expr.func.value, where) and _safe(arg.elt, where)
        return False
    return f"{where}:{ast.unparse(expr)}" in REVIEWED


def unescaped() -> list[str]:
    found = []
    for path in sorted([*ROOT.glob("pages/**/*.py"), ROOT / "app.py"]):
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in MARKDOWN:
                continue
            args = node.args[:1] + [
                k.value for k in node.keywords if k.arg in ("label", "body", "help")
            ]
            found += [
                f"{where}:{a.lineno}: st.{node.func.attr}({ast.unparse(a)[:90]})"
                for a in args
                if not _safe(a, where)
            ]
    return found


def test_every_markdown_element_gets_constant_or_escaped_text():
    assert unescaped() == []


def test_the_check_catches_an_unescaped_label():
    tree = ast.parse('st.subheader(f"Fused nodes in {label}")')
    call = tree.body[0].value  # type: ignore[attr-defined]
    assert not _safe(call.args[0], "pages/7_Compare.py")
    fixed = ast.parse('st.subheader(f"Fused nodes in {plain(label)}")').body[0].value  # type: ignore[attr-defined]
    assert _safe(fixed.args[0], "pages/7_Compare.py")


def test_download_buttons_do_not_rerun_the_page():
    """Issue 24: a download button that re-runs the page on click (Streamlit's default) races
    its own file: a deferred file's answer that lands as the run starts is dropped with the
    outgoing queue, and the button stays disabled for good. Every download says "ignore"."""
    rerunning, seen = [], 0
    for path in sorted(ROOT.glob("pages/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "download_button"
            ):
                seen += 1
                kw = {k.arg: k.value for k in node.keywords}
                click = kw.get("on_click")
                if not (isinstance(click, ast.Constant) and click.value == "ignore"):
                    rerunning.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert seen >= 7 and not rerunning, (seen, rerunning)

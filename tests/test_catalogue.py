"""Issue 16: one catalogue of hostile model files, a class per family, run at three levels —
the library, the CLI and the browser app. Each case must end in a clear, specific message (or,
where the file is a usable model, a described one with the right finding), never a crash, a
traceback or a read outside the upload.

``CASES`` maps an id to (file bytes, companion files, what the message or finding must say).
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import inspector as I
from inspector.errors import InspectorError
from tests.conftest import ROOT, SAMPLES
from tests.factories import (
    endless_loop,
    external_tensor,
    linear,
    model,
    nested_if,
    onnx_segfault,
    vi,
    with_function_default,
)

GOOD = linear().SerializeToString()


def _external(location: str, offset: str = "0", length: str | None = None) -> bytes:
    m = linear()
    t = m.graph.initializer[0]
    data = numpy_helper.to_array(t).tobytes()
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    entries = {"location": location, "offset": offset, "length": length or str(len(data))}
    for k, v in entries.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return m.SerializeToString()


def _with(mutate) -> bytes:  # type: ignore[no-untyped-def]
    m = linear()
    mutate(m)
    return m.SerializeToString()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model.onnx", GOOD)
    return buf.getvalue()


def _cycle() -> bytes:
    return model(
        [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
        [],
        [vi("b")],
    ).SerializeToString()


def _duplicate_outputs() -> bytes:
    return model(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Neg", ["x"], ["y"])],
        [vi("x", shape=[2])],
        [vi("y")],
    ).SerializeToString()


def _short_raw_data() -> bytes:
    t = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1000], raw_data=b"\0" * 8)
    return model(
        [helper.make_node("Add", ["x", "W"], ["y"])], [vi("x", shape=[1000])], [vi("y")], [t]
    ).SerializeToString()


def _many_strings() -> bytes:
    t = onnx.TensorProto(name="s", data_type=TensorProto.STRING, dims=[10**6])
    t.string_data.extend([b"a"] * 10**6)
    return model(
        [helper.make_node("Identity", ["s"], ["y"])], [], [vi("y", TensorProto.STRING)], [t]
    ).SerializeToString()


def _text_in(field: str) -> bytes:
    evil = "<script>alert(1)</script> ![x](http://evil.example/b.png) [l](javascript:x)"

    def mutate(m: onnx.ModelProto) -> None:
        if field == "doc":
            m.doc_string = evil
        elif field == "meta":
            m.metadata_props.add(key="<b>k</b>", value=evil)
        else:
            m.graph.node[0].name = evil

    return _with(mutate)


def _bomb(op: str, elements: int) -> bytes:
    shape = numpy_helper.from_array(np.array([elements], np.int64), "shape")
    if op == "ConstantOfShape":
        nodes = [helper.make_node("ConstantOfShape", ["shape"], ["y"])]
    else:
        one = numpy_helper.from_array(np.ones(1, np.float32), "one")
        nodes = [helper.make_node("Expand", ["one", "shape"], ["y"])]
        return model(nodes, [], [vi("y")], [shape, one]).SerializeToString()
    return model(nodes, [], [vi("y")], [shape]).SerializeToString()


def _no_graph() -> bytes:
    m = onnx.ModelProto(ir_version=8)
    m.opset_import.add(version=17)
    return m.SerializeToString()


def _recursive_function() -> bytes:
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    call = helper.make_node("F", ["x"], ["y"], domain="local")
    f = helper.make_function("local", "F", ["x"], ["y"], [call], opsets)
    return model(
        [call], [vi("x", shape=[2])], [vi("y")], opsets=opsets, functions=[f]
    ).SerializeToString()


def _sparse_out_of_range() -> bytes:
    m = linear()
    values = numpy_helper.from_array(np.ones(2, np.float32), "S")
    indices = numpy_helper.from_array(np.array([0, 99], np.int64), "S_idx")
    m.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [4]))
    return m.SerializeToString()


def _custom_domain() -> bytes:
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.acme", 1)]
    return model(
        [helper.make_node("Foo", ["x"], ["y"], domain="com.acme")],
        [vi("x", shape=[2])],
        [vi("y")],
        opsets=opsets,
    ).SerializeToString()


#: id → (model bytes, companion files, text the message or a finding must contain)
CASES: dict[str, tuple[bytes, dict[str, bytes], str]] = {
    # not a model at all
    "empty": (b"", {}, "is empty"),
    "random": (np.random.default_rng(1).bytes(4096), {}, "not a valid ONNX"),
    "truncated": (GOOD[: len(GOOD) // 2], {}, "truncated"),
    "text": (b"ir_version: 8\ngraph { }\n", {}, "text"),
    "zip": (_zip(), {}, "zip"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(64), {}, "PNG image"),
    "other_message": (
        numpy_helper.from_array(np.ones((4, 4), np.float32), "t").SerializeToString(),
        {},
        "",
    ),
    # structure
    "nested_if_1000": (nested_if(1000), {}, "deeper than protobuf allows"),
    "cycle": (_cycle(), {}, "cycle"),
    "duplicate_outputs": (_duplicate_outputs(), {}, "duplicate"),
    "empty_names": (_with(lambda m: [n.ClearField("name") for n in m.graph.node]), {}, "no name"),
    "int64_max_dim": (
        _with(
            lambda m: (
                m.graph.input[0].type.tensor_type.shape.dim[0].__setattr__("dim_value", 2**63 - 1)
            )
        ),
        {},
        "",
    ),
    "negative_dim": (
        _with(lambda m: m.graph.initializer[0].dims.__setitem__(0, -4)),
        {},
        "negative",
    ),
    "short_raw_data": (_short_raw_data(), {}, ""),
    "million_strings": (_many_strings(), {}, ""),
    "onnx_segfault": (onnx_segfault(), {}, "crashed (SIGSEGV)"),
    "no_graph": (_no_graph(), {}, "has no graph"),
    "recursive_function": (_recursive_function(), {}, "call each other in a cycle"),
    "sparse_index_out_of_range": (_sparse_out_of_range(), {}, "out of range"),
    "duplicate_initializers": (
        _with(lambda m: m.graph.initializer.append(m.graph.initializer[0])),
        {},
        "not unique",
    ),
    "untyped_input": (_with(lambda m: m.graph.input[0].ClearField("type")), {}, "type"),
    "ten_mb_doc_string": (_with(lambda m: setattr(m, "doc_string", "x" * (10 << 20))), {}, ""),
    "nul_in_names": (_with(lambda m: setattr(m.graph.node[0], "name", "a\0b")), {}, ""),
    "custom_domain": (_custom_domain(), {}, "custom-op library"),
    "opset_2_40": (_with(lambda m: setattr(m.opset_import[0], "version", 2**40)), {}, "refuse"),
    "ir_zero": (_with(lambda m: setattr(m, "ir_version", 0)), {}, "IR version 0 < 3"),
    "loop_10_15": (endless_loop().SerializeToString(), {}, "control-flow"),
    # external data: nothing outside the upload is read
    "ext_parent_path": (_external("../../etc/passwd"), {}, "unsafe_path"),
    "ext_absolute": (_external("/etc/passwd"), {}, "unsafe_path"),
    "ext_function_default": (
        with_function_default(external_tensor("/etc/passwd")).SerializeToString(),
        {},
        "unsafe_path",
    ),
    "ext_file_url": (_external("file:///etc/passwd"), {}, "was not provided"),  # a plain name
    "ext_nul": (_external("w\0.bin"), {}, "unsafe_path"),
    "ext_missing": (_external("w.bin"), {}, "missing_file"),
    "ext_beyond_end": (_external("w.bin", "8"), {"w.bin": bytes(16)}, "out_of_range"),
    "ext_negative_offset": (_external("w.bin", "-8"), {"w.bin": bytes(64)}, "bad_number"),
    "ext_huge_length": (_external("w.bin", "0", str(2**62)), {"w.bin": bytes(64)}, "external"),
    # runtime bombs: described statically, refused or capped when run (tests/test_run.py)
    "constant_of_shape_bomb": (_bomb("ConstantOfShape", 2**40), {}, ""),
    "expand_bomb": (_bomb("Expand", 2**40), {}, ""),
    # injected markup: kept as text
    "html_doc_string": (_text_in("doc"), {}, ""),
    "html_metadata": (_text_in("meta"), {}, ""),
    "html_node_name": (_text_in("node"), {}, ""),
}


def _outcome(data: bytes, companions: dict[str, bytes]) -> str:
    """Every message and finding the library gives for a case, as one text."""
    try:
        loaded = I.load_model(data, companions, name="case.onnx")
    except InspectorError as exc:
        return f"refused: {exc}"
    texts = [f"{f.code} {f.message}" for f in I.diagnose(loaded).findings] + [
        f"{t.status} {' '.join(t.messages)}" for t in I.build_external_data(loaded).tensors
    ]
    for build in (I.build_overview, I.build_graph, I.build_subgraphs, I.build_initializers):
        build(loaded)
    return "described: " + " | ".join(texts)


class TestLibrary:
    @pytest.mark.parametrize("case", sorted(CASES))
    def test_a_record_or_a_specific_message(self, case):
        data, companions, expect = CASES[case]
        text = _outcome(data, companions)
        assert expect.lower() in text.lower(), text[:500]


class TestCli:
    @pytest.mark.parametrize("case", sorted(CASES))
    def test_exit_code_and_message_no_traceback(self, case, tmp_path):
        data, companions, expect = CASES[case]
        (tmp_path / "case.onnx").write_bytes(data)
        for name, payload in companions.items():
            (tmp_path / name).write_bytes(payload)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "inspector",
                "diagnose",
                str(tmp_path / "case.onnx"),
                "--no-session-check",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert expect.lower() in (proc.stdout + proc.stderr).lower()
        assert "\x1b" not in proc.stdout  # model strings never reach the terminal raw


#: One case per family for the browser (each upload costs a page round trip).
BROWSER_CASES = [
    "png",
    "truncated",
    "nested_if_1000",
    "cycle",
    "onnx_segfault",
    "ext_parent_path",
    "html_node_name",
]


@pytest.mark.browser
def test_the_app_shows_each_family_and_keeps_working(tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, IDLE, chromium_available, streamlit_server

    if not chromium_available():
        pytest.skip("Debian chromium is not installed")
    requests: list[str] = []
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        box = page.locator('[data-testid="stFileUploader"]').filter(
            has_text="Drop an .onnx model with its external-data files"
        )
        for case in BROWSER_CASES:
            path = Path(tmp_path) / f"{case}.onnx"
            path.write_bytes(CASES[case][0])
            box.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(path)])
            # Either the model opens (its title) or the app says why; then the server lives.
            # Its page's title or a message names it once the server took the drop (the
            # uploader's own file list names it before), then the run that did ends.
            title = page.get_by_role("heading", name=f"{case}.onnx")
            said = page.locator('[data-testid="stAlert"]').filter(has_text=f"{case}.onnx")
            title.or_(said).first.wait_for(timeout=60_000)
            page.locator(IDLE).wait_for(timeout=60_000)
            assert page.locator('[data-testid="stException"]').count() == 0, case
        # Still working: a sample opens.
        page.locator('[data-testid="stSelectbox"]').nth(1).click()
        page.get_by_role("option", name="cnn_conv_bn_relu.onnx").click()
        page.get_by_role("button", name="Open sample").click()
        page.get_by_role("heading", name="cnn_conv_bn_relu.onnx").wait_for(timeout=30_000)
        browser.close()
    outside = [u for u in requests if u.startswith("http") and not u.startswith(url)]
    assert outside == [], outside


def test_the_catalogue_is_big_enough():
    assert len(CASES) >= 40 and len(set(CASES)) == len(CASES)
    assert SAMPLES.exists() and ROOT.exists()


def test_a_graph_over_the_node_limit_is_refused_with_the_limit_named():
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(150)]
    m = model(nodes, [vi("t0", shape=[1])], [vi("t150")])
    with pytest.raises(InspectorError, match=r"more than 100 nodes \(max_nodes\)"):
        I.load_model(m.SerializeToString(), {}, limits=I.Limits(max_nodes=100))
    I.load_model(m.SerializeToString(), {})  # the default limit is far above


def test_external_references_in_training_graphs_are_checked_too():
    """Issue 16: external data inside training_info was not validated."""
    m = linear()
    t = onnx.TensorProto(name="state", data_type=TensorProto.FLOAT, dims=[4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in {"location": "../../etc/passwd", "offset": "0", "length": "16"}.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    info = m.training_info.add()
    info.initialization.CopyFrom(helper.make_graph([], "init", [], [], [t]))
    report = I.build_external_data(I.load_model(m.SerializeToString(), {}))
    (row,) = [x for x in report.tensors if x.graph.startswith("training:")]
    assert row.status == "unsafe_path" and not row.usable


# --------------------------------------------------------------------------- input files
# The same three levels for the files a user supplies as run inputs (Run lab upload, CLI
# --input): a clear message before anything is allocated or handed to ONNX Runtime.


def _npy(arr: np.ndarray, pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=pickle)
    return buf.getvalue()


def _npz(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


GOOD_A = _npy(np.ones((2, 3), np.float32))
GOOD_B = _npy(np.ones((2, 3), np.float32))


def _npy_claiming(shape: str) -> bytes:
    """A .npy whose header declares ``shape`` (the data is 24 bytes whatever it says)."""
    good = _npy(np.zeros((2, 3), np.float32))
    return good.replace(b"(2, 3)", shape.encode().ljust(6)[: max(6, len(shape))])


def _npz_bomb(unpacked: int = 1100 << 20) -> bytes:
    """A ~1 MB .npz whose member unpacks to ``unpacked`` bytes (streamed: never held)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("a.npy", "w", force_zip64=True) as fh:
            fh.write(GOOD_A[:128])
            chunk = bytes(1 << 20)
            for _ in range(unpacked >> 20):
                fh.write(chunk)
    return buf.getvalue()


def _damaged_npz() -> bytes:
    raw = bytearray(_npz({"a.npy": _npy(np.ones((2, 3), np.float32))}))
    raw[raw.find(b"PK\x03\x04") + 40] ^= 0xFF
    return bytes(raw)


def _external_pb() -> bytes:
    t = numpy_helper.from_array(np.ones((2, 3), np.float32), "a")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "/etc/passwd"
    return t.SerializeToString()


#: id → (input files, text the message must contain)
INPUT_CASES: dict[str, tuple[dict[str, bytes], str]] = {
    "pickle_npy": ({"a.npy": _npy(np.array([{"x": 1}], dtype=object), pickle=True)}, "pickled"),
    "npy_70_gb": ({"a.npy": _npy_claiming("(131072, 131072)")}, "limit"),
    "npy_negative_shape": ({"a.npy": _npy_claiming("(-2, 3)")}, "negative dimension"),
    "npy_truncated": ({"a.npy": GOOD_A[:-8], "b.npy": GOOD_B}, "truncated"),
    "npy_not_numpy": ({"a.npy": b"hello", "b.npy": GOOD_B}, "not a valid .npy"),
    "npz_bomb": ({"in.npz": _npz_bomb()}, "limit"),
    "npz_damaged": ({"in.npz": _damaged_npz()}, "damaged"),
    "npz_not_zip": ({"in.npz": b"PK\x03\x04 not really"}, "not a valid .npz"),
    "npz_path_names": ({"in.npz": _npz({"../../a.npy": GOOD_A, "b.npy": GOOD_B})}, "match no"),
    "pb_garbage": ({"a.pb": b"\xff" * 64, "b.npy": GOOD_B}, "a.pb"),
    "pb_external": ({"a.pb": _external_pb(), "b.npy": GOOD_B}, "external data"),
    "unknown_name": ({"a.npy": GOOD_A, "c.npy": GOOD_B}, "match no graph input"),
    "missing_input": ({"a.npy": GOOD_A}, "missing input"),
    "wrong_dtype": ({"a.npy": _npy(np.ones((2, 3))), "b.npy": GOOD_B}, "must be FLOAT"),
    "wrong_rank": ({"a.npy": _npy(np.ones(6, np.float32)), "b.npy": GOOD_B}, "rank 2"),
    "wrong_dim": ({"a.npy": _npy(np.ones((2, 4), np.float32)), "b.npy": GOOD_B}, "dim 1"),
    "text_file": ({"a.txt": b"1 2 3", "b.npy": GOOD_B}, "unsupported input file"),
}


def _two_inputs() -> onnx.ModelProto:
    return model(
        [helper.make_node("Add", ["a", "b"], ["y"])],
        [vi("a", shape=[2, 3]), vi("b", shape=[2, 3])],
        [vi("y", shape=[2, 3])],
    )


class TestInputFiles:
    @pytest.mark.parametrize("case", sorted(INPUT_CASES))
    def test_library_says_why(self, case):
        from inspector.run.setup.inputs import InputError, check_inputs, load_input_files

        files, expect = INPUT_CASES[case]
        ov = I.build_overview(I.load_model(_two_inputs().SerializeToString(), {}))
        with pytest.raises(InputError) as info:
            check_inputs(load_input_files(files, ["a", "b"]), ov.inputs)
        assert expect.lower() in str(info.value).lower(), str(info.value)

    @pytest.mark.parametrize("case", sorted(INPUT_CASES))
    def test_cli_exit_code_and_message_no_traceback(self, case, tmp_path):
        files, expect = INPUT_CASES[case]
        (tmp_path / "m.onnx").write_bytes(_two_inputs().SerializeToString())
        args = []
        for name, data in files.items():
            (tmp_path / name).write_bytes(data)
            args += ["--input", str(tmp_path / name)]
        proc = subprocess.run(
            [sys.executable, "-m", "inspector", "run", str(tmp_path / "m.onnx"), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert expect.lower() in (proc.stdout + proc.stderr).lower(), proc.stderr[-2000:]

    def test_a_good_pair_runs(self, tmp_path):
        """The control: the same model and well-formed files run."""
        from inspector.run.setup.inputs import check_inputs, load_input_files

        ov = I.build_overview(I.load_model(_two_inputs().SerializeToString(), {}))
        arrays = load_input_files({"a.npy": GOOD_A, "b.npy": GOOD_B}, ["a", "b"])
        check_inputs(arrays, ov.inputs)
        assert arrays["a"].shape == (2, 3)


def test_the_input_catalogue_is_big_enough():
    assert len(INPUT_CASES) >= 15


#: Input-file cases uploaded in the browser (one per family: pickle, header bomb, zip bomb).
BROWSER_INPUT_CASES = ["pickle_npy", "npy_70_gb", "npz_bomb", "npz_damaged"]


def _files_taken(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the Run lab took the uploaded input files: with files it shows no input
    generation fields, and the rerun that hid them is over (a click during it can be lost)."""
    from tests.browser import IDLE

    page.get_by_label("shape").first.wait_for(state="detached", timeout=60_000)
    page.locator(IDLE).wait_for(timeout=60_000)


@pytest.mark.browser
def test_the_run_lab_says_why_an_input_file_is_refused_and_keeps_working(tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available, streamlit_server
    from tests.test_browser import drop_model_files, shot

    if not chromium_available():
        pytest.skip("Debian chromium is not installed")
    src = tmp_path / "two_inputs.onnx"
    src.write_bytes(_two_inputs().SerializeToString())
    with streamlit_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("heading", name="mlp_gelu_layernorm.onnx").wait_for(timeout=30_000)
        drop_model_files(page, [str(src)])
        page.get_by_role("heading", name="two_inputs.onnx").wait_for(timeout=30_000)
        page.get_by_role("link", name="Run lab").click()
        box = page.locator('[data-testid="stFileUploader"]').filter(has_text="Input files")
        for case in BROWSER_INPUT_CASES:
            files, expect = INPUT_CASES[case]
            folder = tmp_path / case
            folder.mkdir()
            paths = []
            for name, data in files.items():
                (folder / name).write_bytes(data)
                paths.append(str(folder / name))
            box.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(paths)
            _files_taken(page)
            page.get_by_role("button", name="Run the matrix").click()
            alert = page.locator('[data-testid="stAlert"]').filter(has_text=expect)
            alert.first.wait_for(timeout=60_000)
            assert page.locator('[data-testid="stException"]').count() == 0, case
            if case == "npz_bomb":
                shot(page, "runlab-input-file-refused")
            # Leaving the page clears its uploader for the next case; the model stays open.
            page.get_by_role("link", name="Overview").click()
            page.get_by_role("heading", name="two_inputs.onnx", exact=True).wait_for(timeout=30_000)
            page.get_by_role("link", name="Run lab").click()
            page.get_by_role("button", name="Run the matrix").wait_for(timeout=30_000)
        # Still working: the good pair runs.
        folder = tmp_path / "good"
        folder.mkdir()
        (folder / "a.npy").write_bytes(GOOD_A)
        (folder / "b.npy").write_bytes(GOOD_B)
        box.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            [str(folder / "a.npy"), str(folder / "b.npy")]
        )
        _files_taken(page)
        page.get_by_role("button", name="Run the matrix").click()
        page.get_by_text("ok, 0 failed").first.wait_for(timeout=120_000)
        browser.close()

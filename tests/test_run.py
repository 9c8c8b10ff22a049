"""The run lab engine: isolated ORT runs, EP assignment, fallback, profiles, deltas, failures."""

from __future__ import annotations

import glob
import os
import re
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector import build_overview, load_model
from inspector.limits import Limits
from inspector.run.analyses.compare import compare, delta, node_timing_table
from inspector.run.execute.runner import RunError, run_matrix, unique_names
from inspector.run.setup.config import RunConfig, expand_matrix, parse_eps
from inspector.run.setup.eps import discover, plugin_libraries
from inspector.run.setup.inputs import InputPlan, generate, resolve
from tests.conftest import ALIASES, ROOT, second_ep_params
from tests.factories import linear, model, vi, with_external

SAMPLES = ROOT / "sample_models"
FAST = dict(warmup_runs=0, timed_runs=2, profiled_runs=0)
SECOND_EP_PARAMS = second_ep_params()


def inputs_for(m, **dims):
    return generate(resolve(build_overview(m).inputs, InputPlan.make(dims=dims)))


def one(m, config: RunConfig, inputs=None, limits=None):
    from inspector.run.setup.config import Matrix

    feeds = inputs if inputs is not None else inputs_for(m)
    (r,) = run_matrix(m, Matrix((config,)), feeds, limits=limits)
    return r


class TestResults:
    def test_cpu_run_records_everything(self):
        m = load_model(SAMPLES / "cnn_conv_bn_relu.onnx")
        r = one(m, RunConfig(opt_level="all", timed_runs=5, profiled_runs=3))
        assert r.ok, r.error
        assert r.latency.median_ms > 0 and len(r.latency.runs_ms) == 5
        assert r.latency.p10_ms <= r.latency.median_ms <= r.latency.p90_ms
        assert r.providers_active == ("CPUExecutionProvider",)
        assert r.fallback.off_preferred == () and r.fallback.source == "assignment_info"
        assert r.profile.runs == 3 and r.profile.nodes
        assert sum(t.share for t in r.profile.nodes) == pytest.approx(1.0)
        # Level "all" fuses Conv+BN(+Relu): fewer runtime nodes, mapped back to the originals.
        assert r.optimized_nodes < len(m.proto.graph.node)
        origins = dict(r.origins)
        fused = [ids for ids in origins.values() if len(ids) > 1]
        assert fused, origins
        assert r.output_arrays()["logits"].shape == (1, 10)

    def test_outputs_equal_a_direct_onnxruntime_run(self):
        m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
        feeds = inputs_for(m, batch=3)
        r = one(m, RunConfig(**FAST), feeds)
        direct = ort.InferenceSession(
            str(SAMPLES / "mlp_gelu_layernorm.onnx"), providers=["CPUExecutionProvider"]
        ).run(None, feeds)[0]
        np.testing.assert_allclose(r.output_arrays()["y"], direct, rtol=1e-5, atol=1e-6)

    def test_matrix_labels_and_reference_first(self):
        mat = expand_matrix(
            ["cpu"],
            ["disable_all", "basic", "all"],
            [
                {},
                {
                    "label": "gelu-approx",
                    "session_config": {"optimization.enable_gelu_approximation": "1"},
                },
            ],
        )
        labels = [c.label for c in mat.configs]
        assert labels[0] == "reference · CPU · disable_all"
        assert "CPU · all · gelu-approx" in labels and "CPU · disable_all" not in labels
        assert len(labels) == len(set(labels)) == 6

    def test_gelu_approximation_changes_numerics(self):
        # ORT 1.32 fuses MatMul+Add into Gemm before BiasGelu forms, and the approximation
        # only rewrites BiasGelu/Gelu of com.microsoft: keep MatMulAddFusion off to see it.
        m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
        base = RunConfig(disabled_optimizers=("MatMulAddFusion",), **{**FAST, "profiled_runs": 1})
        mat = expand_matrix(
            ["cpu"],
            ["all"],
            [
                {},
                {
                    "label": "approx",
                    "session_config": {"optimization.enable_gelu_approximation": "1"},
                },
            ],
            base=base,
        )
        _, exact, approx = run_matrix(m, mat, inputs_for(m, batch=4))
        assert "com.microsoft::BiasGelu" in dict(exact.optimized_ops)
        assert "com.microsoft::FastGelu" in dict(approx.optimized_ops)
        c = compare(exact, approx, atol=1e-6, rtol=0)
        assert 1e-5 < c.worst_max_abs < 1e-2 and not c.all_close

    def test_disabled_optimizer_pass_takes_effect(self):
        m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
        base = RunConfig(opt_level="all", **{**FAST, "profiled_runs": 1})
        fused = one(m, base)
        # Pass names of ORT 1.32 (older releases call them GeluFusion/LayerNormFusion).
        unfused = one(
            m,
            RunConfig(
                opt_level="all",
                disabled_optimizers=("GeluFusionL1", "LayerNormFusionL1"),
                **{**FAST, "profiled_runs": 1},
            ),
        )
        assert "Gelu" in dict(fused.optimized_ops) and "Gelu" not in dict(unfused.optimized_ops)
        assert "LayerNormalization" not in dict(unfused.optimized_ops)

    def test_unnamed_nodes_get_unique_runtime_names(self):
        m = model(
            [
                helper.make_node("Relu", ["x"], ["a"]),
                helper.make_node("Relu", ["a"], ["b"]),
                helper.make_node("Neg", ["b"], ["y"], name="dup"),
            ],
            [vi("x", shape=[4])],
            [vi("y", shape=[4])],
        )
        named, mapping = unique_names(m)
        names = [n.name for n in named.graph.node]
        assert len(set(names)) == 3 and set(mapping.values()) == {"main:0", "main:1", "main:2"}
        assert [n.name for n in m.graph.node] == ["", "", "dup"]  # the original is untouched
        r = one(load_model(m.SerializeToString()), RunConfig(**{**FAST, "profiled_runs": 2}))
        assert {nid for nid, *_ in ((row.node_id,) for row in node_timing_table((r,))[1])} == {
            "main:0",
            "main:1",
            "main:2",
        }

    def test_external_data_model_runs_from_uploads(self, tmp_path):
        path = with_external(linear(), tmp_path, "W")
        m = load_model(path.read_bytes(), {"w.bin": (tmp_path / "w.bin").read_bytes()})
        feeds = inputs_for(m, batch=2)
        r = one(m, RunConfig(**FAST), feeds)
        ref = linear()
        w, b = (numpy_helper.to_array(t) for t in ref.graph.initializer)
        np.testing.assert_allclose(r.output_arrays()["y"], feeds["x"] @ w + b, rtol=1e-5)


class TestRefusals:
    def test_location_outside_the_upload_set_is_refused(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        (tmp_path / "secret.bin").write_bytes(np.arange(12, dtype=np.float32).tobytes())
        path = with_external(linear(), tmp_path / "up", "W", location="secret.bin", write=False)
        m = load_model(path.read_bytes(), {})
        with pytest.raises(RunError, match="secret.bin"):
            run_matrix(m, expand_matrix(["cpu"], ["all"]), inputs_for(m, batch=1))

    def test_traversal_location_is_refused(self, tmp_path):
        path = with_external(linear(), tmp_path / "m", "W", location="../secret.bin", write=False)
        m = load_model(path)
        with pytest.raises(RunError, match="refused"):
            run_matrix(m, expand_matrix(["cpu"], ["all"]), inputs_for(m, batch=1))


class TestFailuresAreIsolated:
    def test_crash(self, monkeypatch):
        monkeypatch.setenv("INSPECTOR_WORKER_FAULT", "segv")
        m = load_model(SAMPLES / "cnn_conv_bn_relu.onnx")
        r = one(m, RunConfig(**FAST))
        assert r.status == "error" and r.error_kind == "crash" and "SIGSEGV" in r.error
        assert r.label in r.error

    def test_timeout(self):
        # A Loop with an enormous trip count never finishes.
        body = helper.make_graph(
            [
                helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                helper.make_node("Add", ["v", "one"], ["v_out"]),
            ],
            "body",
            [
                vi("i", TensorProto.INT64, []),
                vi("cond_in", TensorProto.BOOL, []),
                vi("v", shape=[1]),
            ],
            [vi("cond_out", TensorProto.BOOL, []), vi("v_out", shape=[1])],
            [numpy_helper.from_array(np.ones(1, np.float32), "one")],
        )
        m = model(
            [helper.make_node("Loop", ["n", "c", "x"], ["y"], body=body)],
            [vi("x", shape=[1])],
            [vi("y", shape=[1])],
            [
                numpy_helper.from_array(np.array(10**15, np.int64), "n"),
                numpy_helper.from_array(np.array(True), "c"),
            ],
        )
        loaded = load_model(m.SerializeToString())
        start = time.monotonic()
        r = one(loaded, RunConfig(**FAST), limits=Limits(run_timeout_s=3))
        assert r.error_kind == "timeout" and "3 s" in r.error
        assert time.monotonic() - start < 30

    def test_memory_cap(self):
        # Expand a scalar to 2^32 floats (16 GiB) under a 2 GiB cap.
        m = model(
            [helper.make_node("Expand", ["x", "shape"], ["y"])],
            [vi("x", shape=[1])],
            [vi("y")],
            [numpy_helper.from_array(np.array([2**32], np.int64), "shape")],
        )
        r = one(
            load_model(m.SerializeToString()),
            RunConfig(**FAST),
            limits=Limits(worker_memory_bytes=2 * 1024**3),
        )
        assert r.error_kind == "out_of_memory", r.error
        assert "memory cap" in r.error

    def test_one_failing_configuration_does_not_stop_the_others(self):
        from inspector.run.setup.config import Matrix

        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        mat = expand_matrix(["cpu"], ["all"], base=RunConfig(**FAST))
        # Strict (no CPU fallback) with an EP this build lacks: ORT ends with only the CPU EP,
        # which contradicts "no CPU fallback", and refuses the session.
        bad = RunConfig(eps=parse_eps("cuda"), strict=True, label="bad", **FAST)
        results = run_matrix(m, Matrix((*mat.configs[:1], bad, *mat.configs[1:])), inputs_for(m))
        assert [(r.label.split(" · ")[-1], r.ok) for r in results] == [
            ("disable_all", True),
            ("bad", False),
            ("all", True),
        ]
        assert results[1].error_kind == "invalid_argument"
        assert "Conflicting session configuration" in results[1].error


class TestExecutionProviders:
    def test_requested_but_missing_ep_is_made_visible(self):
        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        r = one(m, RunConfig(eps=parse_eps("cuda,cpu"), **FAST))
        assert r.ok and r.providers_active == ("CPUExecutionProvider",)
        assert r.fallback.requested_inactive == ("CUDAExecutionProvider",)
        assert any("not available in this onnxruntime build" in n for n in r.notes)

    def test_discovery_lists_builtin_and_unavailable(self):
        infos = {i.name: i for i in discover()}
        assert infos["CPUExecutionProvider"].usable
        assert (
            not infos["CUDAExecutionProvider"].usable
            and "CPU silently" in infos["CUDAExecutionProvider"].reason
        )

    @pytest.mark.parametrize("ep", SECOND_EP_PARAMS)
    def test_fallback_demo(self, ep):
        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        ref, second = run_matrix(
            m,
            expand_matrix(
                [f"{ALIASES[ep]},cpu"], ["all"], base=RunConfig(**{**FAST, "profiled_runs": 2})
            ),
            inputs_for(m),
        )
        assert second.ok, second.error
        eps = {a.op_type: a.ep for a in second.assignment}
        assert eps == {"Det": "CPUExecutionProvider", "MatMul": ep, "Tanh": ep, "Softmax": ep}
        assert [a.op_type for a in second.fallback.off_preferred] == ["Det"]
        c = compare(ref, second)
        assert 0 < c.worst_max_abs < 1e-2
        # The profiler agrees: the second EP's events plus Det on CPU.
        assert {t.ep for t in second.profile.nodes} == {ep, "CPUExecutionProvider"}

    @pytest.mark.parametrize("ep", SECOND_EP_PARAMS)
    def test_reported_assignment_equals_onnxruntimes_record(self, ep):
        from inspector.run.setup.options import with_defaults

        lib = dict(plugin_libraries())[ep]
        try:
            ort.register_execution_provider_library(ep, lib)
        except Exception:
            pass
        so = ort.SessionOptions()
        so.add_provider_for_devices(
            [d for d in ort.get_ep_devices() if d.ep_name == ep], dict(with_defaults(ep, ()))
        )
        so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
        sess = ort.InferenceSession(str(SAMPLES / "ep_fallback_det.onnx"), so)
        truth = sorted(
            (n.name, sub.ep_name)
            for sub in sess.get_provider_graph_assignment_info()
            for n in sub.get_nodes()
        )
        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        r = one(m, RunConfig(eps=parse_eps(f"{ALIASES[ep]},cpu"), **FAST))
        assert sorted((a.node, a.ep) for a in r.assignment) == truth

    @pytest.mark.parametrize("ep", SECOND_EP_PARAMS)
    def test_strict_mode_refusal_in_plain_words(self, ep):
        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        r = one(m, RunConfig(eps=parse_eps(ALIASES[ep]), strict=True, **FAST))
        assert r.error_kind == "strict_fallback_refused"
        assert "strict mode refused the session: some nodes have no kernel on" in r.error
        assert "fallback to CPU EP has been explicitly disabled" in r.error

    def test_strict_with_an_absent_ep_says_why_not_conflicting_configuration(self):
        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        r = one(m, RunConfig(eps=parse_eps("cuda"), strict=True, **FAST))
        assert r.error.split(": ", 1)[1].startswith(
            "strict mode could not start: CUDAExecutionProvider requested but not available"
        ), r.error

    def test_an_installed_plugin_without_a_device_is_reported_as_such(self):
        infos = {i.name: i for i in discover()}
        ov = infos.get("OpenVINOExecutionProvider")
        if ov is None or ov.usable or ov.source != "plugin":
            pytest.skip("needs the OpenVINO plugin installed on a CPU it lists no device for")
        assert "installed (onnxruntime-ep-openvino" in ov.reason
        assert "lists no device on this CPU" in ov.reason
        # OpenVINO's plugin offers Intel devices only: the reason says so with the vendor id
        # ONNX Runtime reports for this machine's devices (AMD's 0x1022 on an EPYC host).
        assert "the plugin offers only Intel devices (vendor id 0x8086)" in ov.reason, ov.reason
        assert re.search(r"ONNX Runtime sees CPU by .+? \(0x[0-9a-f]{4}\)", ov.reason), ov.reason
        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        r = one(m, RunConfig(eps=parse_eps("openvino,cpu"), **FAST))
        assert r.ok and any("installed but lists no device" in n for n in r.notes), r.notes

    def test_a_second_ep_is_usable_wherever_its_wheel_installs(self):
        """The fallback demo must run — not skip — on every host CI can run on."""
        import platform
        import sys

        from inspector.run.setup.eps import second_eps

        if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
            pytest.skip("onnxruntime-ggml ships wheels for Linux x86-64 and aarch64")
        assert [e.name for e in second_eps()], [(e.name, e.reason) for e in discover()]


class TestDeltas:
    def test_metrics_equal_an_independent_numpy_computation(self):
        rng = np.random.default_rng(3)
        ref = rng.standard_normal((4, 5)).astype(np.float32)
        got = ref + rng.standard_normal((4, 5)).astype(np.float32) * 1e-3
        d = delta("y", ref, got, atol=1e-4, rtol=1e-3)
        r64, g64 = ref.astype(np.float64), got.astype(np.float64)
        err = np.abs(g64 - r64)
        assert d.max_abs == pytest.approx(err.max()) and d.mean_abs == pytest.approx(err.mean())
        assert d.median_abs == pytest.approx(np.median(err))
        assert d.p99_abs == pytest.approx(np.percentile(err, 99))
        assert d.max_rel == pytest.approx((err / np.abs(r64)).max())
        assert d.worst_index == tuple(int(i) for i in np.unravel_index(err.argmax(), err.shape))
        cos = (r64.ravel() @ g64.ravel()) / (np.linalg.norm(r64) * np.linalg.norm(g64))
        assert d.cosine == pytest.approx(cos)
        assert d.mismatches == int((err > 1e-4 + 1e-3 * np.abs(r64)).sum())
        assert d.allclose == np.allclose(got, ref, atol=1e-4, rtol=1e-3)
        assert sum(d.histogram_counts) == int((err > 0).sum())

    def test_the_error_histogram_spans_the_errors_that_matter(self):
        """Subnormal float32 differences (|Δ| down to 1e-45, seen on MiniLM's outputs) once
        stretched the axis from -38: the histogram spans HISTOGRAM_DECADES below the largest
        error, the smaller ones counted in its first bin and said so on the chart."""
        from inspector.charts import error_histogram
        from inspector.run.analyses.compare import HISTOGRAM_DECADES

        ref = np.array([1.0, 2.0, 3.0, 0.0, 0.0, 5.0], np.float32)
        tiny = np.float32(1e-44)  # subnormal
        got = np.array([1.0 + 2**-23, 2.0, 3.0 + 2**-22, tiny, tiny, 5.0], np.float32)
        d = delta("y", ref, got)
        assert sum(d.histogram_counts) == 4 and d.histogram_below == 2
        assert d.histogram_edges[-1] == pytest.approx(np.log10(2**-22), abs=0.01)
        assert d.histogram_edges[-1] - d.histogram_edges[0] == pytest.approx(HISTOGRAM_DECADES)
        fig = error_histogram(d)
        assert "also 2 smaller than 10^-" in fig.layout.xaxis.title.text
        assert fig.data[0].customdata[0].startswith("below 10^")
        # Errors within the span are binned as they are, with nothing said.
        close = delta("y", ref, ref + np.float32(1e-3))
        assert close.histogram_below == 0 and sum(close.histogram_counts) == 6
        assert "smaller" not in error_histogram(close).layout.xaxis.title.text

    def test_relative_error_skips_zero_references_and_complex_keeps_magnitudes(self):
        """A reference with zeros once gave mean_rel = inf (an overflow warning); complex
        outputs were cast to float, dropping the imaginary part, before their magnitudes."""
        import warnings

        ref = np.array([0.0, 2.0, 4.0], np.float32)
        got = np.array([1e-3, 2.002, 4.0], np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow, no ComplexWarning
            d = delta("y", ref, got, atol=1e-5, rtol=1e-3)
            c = delta("z", np.array([3 + 4j], np.complex64), np.array([3 + 4j], np.complex64))
        rel = np.abs(got[1:].astype(np.float64) - ref[1:]) / ref[1:]
        assert d.max_rel == pytest.approx(rel.max()) and d.mean_rel == pytest.approx(rel.mean())
        err = np.abs(got.astype(np.float64) - ref)
        assert np.isfinite(d.mean_rel) and d.max_abs == pytest.approx(err.max())
        assert c.allclose and c.max_abs == 0.0

    def test_nan_inf_shape_dtype(self):
        ref = np.array([1.0, np.nan, np.inf, 2.0], np.float32)
        got = np.array([1.0, 0.0, -np.inf, 2.0], np.float32)
        d = delta("y", ref, got)
        assert (d.nan_mismatch, d.inf_mismatch, d.mismatches, d.allclose) == (1, 1, 2, False)
        assert d.max_abs == 0.0
        assert delta("y", ref, got[:3]).status == "shape_mismatch"
        assert delta("y", ref, got.astype(np.float64)).status == "dtype_mismatch"


def _reference_cases():
    base = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    cases = []
    for d in sorted(glob.glob(f"{base}/*/*/")):
        if os.path.exists(f"{d}model.onnx") and glob.glob(f"{d}test_data_set_0/input_*.pb"):
            cases.append(d)
    return cases


REFERENCE_CASES = _reference_cases()


def _close(a, b, rtol, atol, msg):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "OUS" or b.dtype.kind in "OUS":
        assert np.array_equal(a.astype(str), b.astype(str)), msg
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=msg)


def _matches(a, b):
    try:
        _close(a, b, 1e-3, 1e-5, "")
        return True
    except AssertionError:
        return False


def test_real_models_match_their_reference_outputs_wherever_ort_does():
    """The onnx wheel's real models with reference data: ours equals ORT, and matches the
    reference wherever a plain ORT session does."""
    from inspector.run.setup.config import Matrix
    from inspector.run.setup.inputs import load_input_files

    assert len(REFERENCE_CASES) >= 50
    checked = 0
    config = RunConfig(opt_level="disable_all", **FAST)
    for d in REFERENCE_CASES[::3]:  # every third: the whole set takes minutes on 2 cores
        m = load_model(f"{d}model.onnx")
        names = [v.name for v in build_overview(m).inputs]
        files = {
            os.path.basename(p): open(p, "rb").read()
            for p in glob.glob(f"{d}test_data_set_0/input_*.pb")
        }
        feeds = load_input_files(files, names)
        try:
            sess = ort.InferenceSession(f"{d}model.onnx", providers=["CPUExecutionProvider"])
            direct = sess.run(None, feeds)
        except Exception:
            continue  # ORT itself cannot run it: nothing to hold us to
        expected = [
            numpy_helper.to_array(onnx.load_tensor(p))
            for p in sorted(glob.glob(f"{d}test_data_set_0/output_*.pb"))
        ]
        ort_matches = all(_matches(a, e) for a, e in zip(direct, expected, strict=False))
        (r,) = run_matrix(m, Matrix((config,)), feeds)
        assert r.ok, (d, r.error)
        ours = [r.output_arrays()[o.name] for o in r.outputs]
        for a, b in zip(ours, direct, strict=True):
            _close(a, b, 1e-4, 1e-5, d)
        if ort_matches:
            for a, e in zip(ours, expected, strict=False):
                _close(a, e, 1e-3, 1e-5, d)
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize(
    "dtype",
    [TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT16, TensorProto.STRING],
    ids=["bfloat16", "float8e4m3fn", "float16", "string"],
)
def test_inputs_of_every_kind_reach_onnxruntime(dtype):
    # bfloat16/float8 have no numpy dtype ORT knows: they travel as OrtValues with an ONNX type.
    from inspector.run.setup.config import Matrix

    if dtype == TensorProto.STRING:
        m = model(
            [helper.make_node("Identity", ["x"], ["y"])],
            [vi("x", dtype, [3])],
            [vi("y", dtype, [3])],
        )
    else:
        m = model(
            [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
            [vi("x", dtype, [3])],
            [vi("y", TensorProto.FLOAT, [3])],
        )
    loaded = load_model(m.SerializeToString())
    feeds = inputs_for(loaded)
    (r,) = run_matrix(loaded, Matrix((RunConfig(**FAST),)), feeds)
    assert r.ok, r.error
    y = r.output_arrays()["y"]
    if dtype == TensorProto.STRING:
        assert list(y) == list(feeds["x"])
    else:
        np.testing.assert_array_equal(y, feeds["x"].astype(np.float32))


class TestAttributionAfterLayoutTransforms:
    """Issue 8: at level 'all' the NCHWc transformer renames every tensor between Reorders, so
    one ReorderOutput claimed the whole graph and no Conv had an origin."""

    def test_every_conv_has_exactly_one_runtime_conv_and_times_add_up(self):
        from tests.factories import cnn_bn_relu

        m = load_model(cnn_bn_relu(blocks=4).SerializeToString(), name="cnn.onnx")
        (r,) = run_matrix(
            m,
            expand_matrix(
                ["cpu"],
                ["all"],
                base=RunConfig(**{**FAST, "profiled_runs": 3}),
                include_reference=False,
            ),
            {"image": np.random.default_rng(0).standard_normal((1, 3, 16, 16), np.float32)},
        )
        assert r.ok, r.error
        kinds = {t.node: t.op_type for t in r.profile.nodes}
        assert any(k.startswith("Reorder") for k in kinds.values()), "NCHWc did not apply"
        origins = dict(r.origins)
        convs = [f"main:{i}" for i, n in enumerate(m.proto.graph.node) if n.op_type == "Conv"]
        for conv in convs:
            owners = [node for node, ids in origins.items() if conv in ids]
            assert len(owners) == 1 and kinds.get(owners[0]) == "Conv", (conv, owners)
        for node, op in kinds.items():
            if op.startswith("Reorder"):
                assert origins.get(node, ()) == (), (node, origins.get(node))
        _, rows = node_timing_table((r,))
        total = sum(row.times_us[0] for row in rows)
        assert total == pytest.approx(r.profile.node_sum_us, rel=1e-6)

    def test_reshapes_around_a_3d_gemm_claim_no_one_elses_nodes(self):
        """At level 'all' ORT turns 3-D MatMul+Add into Reshape → Gemm → Reshape and names the
        new tensors ``gemm_output_reshape_token_N``: walking back from such a Reshape crossed
        every renamed tensor to the graph's start, so one Reshape claimed up to 1,499 of 1,501
        nodes (and its time was spread over them). Tensors that still exist at run time now end
        every walk: each original node has at most one owner, each fusion its own nodes."""
        from tests.factories import scoped_transformer

        m = load_model(scoped_transformer(20).SerializeToString(), name="t.onnx")
        (r,) = run_matrix(
            m,
            expand_matrix(
                ["cpu"],
                ["all"],
                base=RunConfig(**{**FAST, "profiled_runs": 1}),
                include_reference=False,
            ),
            {"x": np.ones((1, 4, 8), np.float32)},
        )
        assert r.ok, r.error
        assert any("gemm_output_reshape" in node for node, _ in r.origins), "no Gemm fusion here"
        owners: dict[str, list[str]] = {}
        for node, ids in r.origins:
            for i in ids:
                owners.setdefault(i, []).append(node)
        assert max(len(ids) for _, ids in r.origins) <= 2  # MatMul + Add → Gemm at most
        assert all(len(v) == 1 for v in owners.values()), {
            k: v for k, v in owners.items() if len(v) > 1
        }
        assert len(owners) >= len(m.proto.graph.node) - 1  # all but the removed Identity


def test_sequence_of_maps_outputs_are_compared_as_numbers():
    """Issue 8, item 7: sklearn classifiers' ZipMap output, seq(map(int64, float)), was compared
    as strings with max |Δ| None."""
    from onnx import helper

    from tests.factories import model, vi

    map_t = helper.make_map_type_proto(
        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
    )
    out = helper.make_value_info("probs", helper.make_sequence_type_proto(map_t))
    m = model(
        [
            helper.make_node("Softmax", ["x"], ["p"], axis=1),
            helper.make_node(
                "ZipMap", ["p"], ["probs"], domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2]
            ),
        ],
        [vi("x", shape=[4, 3])],
        [out],
        opsets=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
    )
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    ref, cand = run_matrix(
        load_model(m.SerializeToString(), name="zipmap.onnx"),
        expand_matrix(["cpu"], ["all"], base=RunConfig(**FAST)),
        {"x": x},
    )
    assert ref.outputs[0].shape == (4, 3) and "sequence of maps" in ref.outputs[0].note
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(ref.output_arrays()["probs"], e / e.sum(1, keepdims=True), 1e-6)
    d = compare(ref, cand).outputs[0]
    assert d.status == "ok" and d.max_abs is not None and d.max_abs < 1e-6


def test_worker_caps_and_run_slots_follow_the_hosts_memory(monkeypatch):
    """Issue 16: a fixed 8 GB cap per worker let two memory bombs exhaust a 24 GB host."""
    from inspector import limits as L

    monkeypatch.setattr(L.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(L, "host_memory_bytes", lambda: 8 * L.GiB)
    assert L.run_slots(L.DEFAULT_LIMITS) == 2  # 8 cores, but RAM for two runs of 4 GiB
    assert L.worker_memory(L.DEFAULT_LIMITS) == 8 * L.GiB // 3  # a share: 2 slots + server
    custom = L.Limits(max_concurrent_runs=1, worker_memory_bytes=1 * L.GiB)
    assert L.run_slots(custom) == 1 and L.worker_memory(custom) == 1 * L.GiB

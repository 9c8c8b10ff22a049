"""Run lab inputs (generated and supplied), analysis (first divergence, ablation) and CLI."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector import build_overview, load_model
from inspector.cli import main
from inspector.run.analyses.analysis import ablation, first_divergence
from inspector.run.execute.runner import run_matrix
from inspector.run.setup.config import ConfigError, RunConfig, expand_matrix, load_matrix, parse_eps
from inspector.run.setup.inputs import (
    InputError,
    InputPlan,
    check_inputs,
    generate,
    load_input_files,
    resolve,
)
from tests.conftest import ALIASES, ROOT
from tests.test_run import SECOND_EP_PARAMS, inputs_for

SAMPLES = ROOT / "sample_models"


def npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


class TestGeneratedInputs:
    def test_symbolic_dims_shared_and_name_based_ranges(self):
        ov = build_overview(load_model(SAMPLES / "dynamic_axes_transformer_block.onnx"))
        resolved = resolve(ov.inputs, InputPlan.make(dims={"batch": 3, "sequence": 11}))
        assert [r.shape for r in resolved] == [(3, 11), (3, 11)]
        arrays = generate(resolved, seed=5)
        assert arrays["attention_mask"].min() >= 0 and arrays["attention_mask"].max() <= 1
        assert 0 <= arrays["input_ids"].min() and arrays["input_ids"].max() <= 99
        assert np.array_equal(arrays["input_ids"], generate(resolved, seed=5)["input_ids"])
        check_inputs(arrays, ov.inputs)

    def test_ranges_fixed_values_and_dtypes(self):
        x = helper.make_tensor_value_info("x", TensorProto.BFLOAT16, ["n"])
        sr = helper.make_tensor_value_info("sample_rate", TensorProto.INT64, [])
        m = helper.make_model(helper.make_graph([], "g", [x, sr], []))
        inputs = build_overview(load_model(m.SerializeToString())).inputs
        plan = InputPlan.make(dims={"n": 4}, ranges={"x": (5, 6)})
        arrays = generate(resolve(inputs, plan))
        assert str(arrays["x"].dtype) == "bfloat16" and arrays["x"].shape == (4,)
        assert 5 <= float(arrays["x"].astype(np.float32).min()) <= 6
        assert int(arrays["sample_rate"]) == 16000

    def test_bad_plans(self):
        ov = build_overview(load_model(SAMPLES / "cnn_conv_bn_relu.onnx"))
        with pytest.raises(InputError, match="above high"):
            resolve(ov.inputs, InputPlan.make(ranges={"image": (2, 1)}))


class TestSuppliedInputs:
    names = ["image"]

    def test_npy_npz_pb(self):
        arr = np.ones((1, 3, 32, 32), np.float32)
        assert load_input_files({"image.npy": npy(arr)}, self.names)["image"].shape == arr.shape
        buf = io.BytesIO()
        np.savez(buf, image=arr)
        assert "image" in load_input_files({"in.npz": buf.getvalue()}, self.names)
        pb = numpy_helper.from_array(arr, "whatever").SerializeToString()
        assert load_input_files({"input_0.pb": pb}, self.names)["image"].shape == arr.shape

    def test_pickle_is_refused(self):
        data = io.BytesIO()
        np.save(data, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        with pytest.raises(InputError, match="pickled"):
            load_input_files({"image.npy": data.getvalue()}, self.names)

    def test_declared_size_is_checked_before_allocating(self):
        header = npy(np.zeros((1,), np.float32))
        huge = header.replace(b"(1,)", b"(1000000000000,)")
        with pytest.raises(InputError, match="declares"):
            load_input_files({"image.npy": huge}, self.names)
        with pytest.raises(InputError, match="truncated"):
            load_input_files({"image.npy": npy(np.zeros((100,), np.float32))[:-40]}, self.names)

    def test_zip_bomb_members_are_refused(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("image.npy", b"\0" * (3 * 1024 * 1024))
        with pytest.raises(InputError, match="unpacks to"):
            load_input_files({"in.npz": buf.getvalue()}, self.names, max_bytes=1024 * 1024)

    @pytest.mark.parametrize(
        "arr, message",
        [
            (np.ones((1, 3, 32, 32), np.float64), "must be FLOAT"),
            (np.ones((3, 32, 32), np.float32), "rank 4"),
            (np.ones((1, 3, 16, 32), np.float32), "dim 2 must be 32"),
        ],
        ids=["dtype", "rank", "fixed-dim"],
    )
    def test_mismatches(self, arr, message):
        ov = build_overview(load_model(SAMPLES / "cnn_conv_bn_relu.onnx"))
        with pytest.raises(InputError, match=message):
            check_inputs({"image": arr}, ov.inputs)

    def test_missing_and_symbolic_conflicts(self):
        ov = build_overview(load_model(SAMPLES / "dynamic_axes_transformer_block.onnx"))
        ids = np.zeros((2, 5), np.int64)
        with pytest.raises(InputError, match="Missing input"):
            check_inputs({"input_ids": ids}, ov.inputs)
        with pytest.raises(InputError, match="sequence"):
            check_inputs(
                {"input_ids": ids, "attention_mask": np.zeros((2, 6), np.int64)}, ov.inputs
            )


class TestConfigs:
    def test_matrix_file(self, tmp_path):
        f = tmp_path / "m.json"
        f.write_text(
            json.dumps(
                {
                    "eps": ["cpu"],
                    "levels": ["basic", 99],
                    "base": {"timed_runs": 3, "disabled_optimizers": ["A", "B"]},
                }
            )
        )
        mat = load_matrix(f)
        assert [c.opt_level for c in mat.configs] == ["disable_all", "basic", "all"]
        assert mat.configs[1].disabled_optimizers == ("A", "B") and mat.configs[1].timed_runs == 3

    @pytest.mark.parametrize(
        "data, message",
        [
            ({"configs": [{"opt_level": "fast"}]}, "Unknown optimization level"),
            ({"configs": [{"eps": "cpu", "strict": True}]}, "needs an EP other than CPU"),
            ({"configs": [{"nope": 1}]}, "Unknown configuration keys"),
        ],
    )
    def test_bad_matrix_files(self, tmp_path, data, message):
        f = tmp_path / "m.json"
        f.write_text(json.dumps(data))
        with pytest.raises(ConfigError, match=message):
            load_matrix(f)

    def test_parse_eps(self):
        assert [e.name for e in parse_eps("openvino, cpu")] == [
            "OpenVINOExecutionProvider",
            "CPUExecutionProvider",
        ]


class TestAnalysis:
    @pytest.mark.parametrize("ep", SECOND_EP_PARAMS)
    def test_first_divergence_on_the_second_ep(self, ep):
        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        feeds = inputs_for(m)
        ref, ov = run_matrix(
            m,
            expand_matrix(
                [f"{ALIASES[ep]},cpu"],
                ["all"],
                base=RunConfig(warmup_runs=0, timed_runs=1, profiled_runs=0),
            ),
            feeds,
        )
        d = first_divergence(m, ref, ov, feeds, atol=1e-6, rtol=0)
        assert d.found and d.node_id == "main:1" and d.op_type == "Tanh"
        assert d.chain[0] == "main:1" and d.error.max_abs > 0

    def test_no_divergence_between_equal_configs(self):
        m = load_model(SAMPLES / "cnn_conv_bn_relu.onnx")
        feeds = inputs_for(m)
        a, b = run_matrix(
            m,
            expand_matrix(
                ["cpu"], ["basic"], base=RunConfig(warmup_runs=0, timed_runs=1, profiled_runs=0)
            ),
            feeds,
        )
        d = first_divergence(m, a, b, feeds, atol=1e-3, rtol=1e-3)
        assert not d.found and d.checked_tensors > 0

    def test_ablation(self):
        m = load_model(SAMPLES / "mlp_gelu_layernorm.onnx")
        rows = ablation(
            m,
            RunConfig(opt_level="all", warmup_runs=0, timed_runs=3),
            inputs_for(m, batch=2),
            ["GeluFusionL1", "NotAPass"],
        )
        by = {r.disabled: r for r in rows}
        assert by["GeluFusionL1"].graph_changed and not by["NotAPass"].graph_changed
        assert "no effect" in by["NotAPass"].note and by[""].time_ratio == 1.0
        # Noise is shown, not reported as an effect (issue 8, item 6).
        assert by["NotAPass"].within_noise is True and "noise" in by["NotAPass"].note
        again = by["(baseline again)"]
        assert again.ratio_ci[0] <= again.time_ratio <= again.ratio_ci[1]
        assert by[""].ratio_ci is None and by[""].within_noise is None

    def test_ratio_interval_against_known_shifts(self):
        from inspector.run.analyses.analysis import ratio_interval

        rng = np.random.default_rng(1)
        a = list(1.0 + rng.random(40) * 0.1)
        assert ratio_interval(a, a)[0] <= 1.0 <= ratio_interval(a, a)[1]
        lo, hi = ratio_interval(a, [2 * x for x in a])
        assert 1.8 < lo <= 2.0 <= hi < 2.2
        lo, hi = ratio_interval(a, list(1.0 + rng.random(40) * 0.1))
        assert lo <= 1.0 <= hi  # same distribution: the interval holds 1


class TestCli:
    def test_run_json_and_out_dir(self, capsys, tmp_path):
        code = main(
            [
                "run",
                str(SAMPLES / "cnn_conv_bn_relu.onnx"),
                "--level",
                "all",
                "--runs",
                "3",
                "--profiled-runs",
                "1",
                "--out",
                str(tmp_path / "o"),
                "--json",
            ]
        )
        out = json.loads(capsys.readouterr().out)
        assert code == 0 and [r["label"] for r in out["summary"]] == [
            "reference · CPU · disable_all",
            "CPU · all",
        ]
        saved = json.loads((tmp_path / "o" / "results.json").read_text())
        assert saved["summary"] == out["summary"]
        assert np.load(tmp_path / "o" / "run_01" / "logits.npy").shape == (1, 10)
        # What --out promises (issue 8, item 9): the profile, the optimized graph, the inputs.
        trace = json.loads((tmp_path / "o" / "run_01" / "profile.json").read_text())
        assert any(e.get("cat") == "Node" for e in trace)
        optimized = onnx.load(
            str(tmp_path / "o" / "run_01" / "optimized.onnx"), load_external_data=False
        )
        assert any(n.op_type == "ReorderOutput" for n in optimized.graph.node)
        assert np.load(tmp_path / "o" / "inputs" / "image.npy").shape == (1, 3, 32, 32)

    def test_compare_gates_agree_in_text_and_json_and_out_is_kept(self, capsys, tmp_path):
        model = str(SAMPLES / "mlp_gelu_layernorm.onnx")
        base = ["compare", model, "--dim", "batch=2", "--runs", "2", "--profiled-runs", "0"]
        text = main([*base, "--rtol", "0", "--atol", "0"])
        capsys.readouterr()
        as_json = main([*base, "--rtol", "0", "--atol", "0", "--json", "--out", str(tmp_path)])
        capsys.readouterr()
        assert text == as_json == 1  # level 'all' fuses Gelu/LayerNorm: not bit-identical
        assert main([*base, "--json"]) == 0  # no tolerance given: no gate
        capsys.readouterr()
        saved = json.loads((tmp_path / "results.json").read_text())
        assert "comparison" in saved and len(saved["results"]) == 2
        assert (tmp_path / "run_01" / "y.npy").exists() or list((tmp_path / "run_01").glob("*.npy"))

    def test_tolerance_gate(self, capsys):
        args = [
            "run",
            str(SAMPLES / "mlp_gelu_layernorm.onnx"),
            "--dim",
            "batch=2",
            "--runs",
            "2",
            "--profiled-runs",
            "0",
            "--disable",
            "MatMulAddFusion",
            "--config",
            "optimization.enable_gelu_approximation=1",
        ]
        assert main(args + ["--atol", "1e-2"]) == 0
        capsys.readouterr()
        assert main(args + ["--atol", "1e-7", "--rtol", "0"]) == 1
        assert "outputs differ from the reference" in capsys.readouterr().err

    @pytest.mark.parametrize("ep", SECOND_EP_PARAMS)
    def test_fallback_gates(self, capsys, ep):
        model = str(SAMPLES / "ep_fallback_det.onnx")
        alias = ALIASES[ep]
        base = ["run", model, "--ep", f"{alias},cpu", "--runs", "2", "--profiled-runs", "0"]
        assert main(base + ["--require-ep", alias]) == 1
        assert f"1 nodes fell back off {ep} (Det)" in capsys.readouterr().err
        assert main(base + ["--max-fallback-nodes", "1"]) == 0
        assert main(base + ["--max-fallback-nodes", "0"]) == 1

    def test_missing_ep_gate(self, capsys):
        code = main(
            [
                "run",
                str(SAMPLES / "ep_fallback_det.onnx"),
                "--ep",
                "cuda,cpu",
                "--runs",
                "2",
                "--profiled-runs",
                "0",
                "--require-ep",
                "cuda",
            ]
        )
        assert code == 1 and "requested but is not active" in capsys.readouterr().err

    def test_bad_input_is_one_line(self, capsys):
        code = main(["run", str(SAMPLES / "cnn_conv_bn_relu.onnx"), "--dim", "batch=x"])
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1 and "--dim values must be integers" in err

    def test_compare(self, capsys):
        code = main(
            [
                "compare",
                str(SAMPLES / "cnn_conv_bn_relu.onnx"),
                "--cand",
                "cpu@all",
                "--runs",
                "3",
                "--profiled-runs",
                "2",
                "--json",
            ]
        )
        out = json.loads(capsys.readouterr().out)
        assert code == 0 and out["comparison"]["outputs"][0]["output"] == "logits"
        assert out["node_timing"]["rows"]


class TestEpCli:
    def test_eps_json_is_the_record_the_run_lab_shows(self, capsys):
        from inspector.run.setup.eps import discover

        assert main(["eps", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert {tuple(sorted(r)) for r in rows} == {
            ("devices", "name", "package", "reason", "source", "usable")
        }
        assert [(r["name"], r["usable"], r["reason"]) for r in rows] == [
            (i.name, i.usable, i.reason) for i in discover()
        ]

    @pytest.mark.parametrize("ep", SECOND_EP_PARAMS[:1])  # ggml
    def test_ep_option_reaches_the_configuration(self, capsys, ep):
        det = str(SAMPLES / "ep_fallback_det.onnx")
        argv = ["run", det, "--ep", "ggml,cpu", "--runs", "1", "--profiled-runs", "0", "--json"]
        assert main([*argv, "--ep-option", "ggml:threads=2", "--no-reference"]) == 0
        result = json.loads(capsys.readouterr().out)["results"][0]
        assert result["config"]["eps"][0]["options"] == [["partial", "1"], ["threads", "2"]]
        assert main([*argv, "--ep-option", "ggml:dump=1"]) == 1
        assert "ggml option 'dump' is not on the run lab's allow-list" in capsys.readouterr().err

    def test_ep_library_that_is_not_a_library_is_reported(self, capsys, tmp_path):
        from inspector.run.setup import eps

        fake = tmp_path / "libfake_ep.so"
        fake.write_bytes(b"not an ELF file")
        try:
            assert main(["eps", "--json", "--ep-library", f"fake_ep={fake}"]) == 0
            row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "fake_ep")
            assert row["source"] == "library" and not row["usable"]
            assert "does not load" in row["reason"]
            assert main(["eps", "--ep-library", f"x={tmp_path / 'missing.so'}"]) == 1
            assert "does not exist" in capsys.readouterr().err
        finally:
            eps._EXTRA.clear()
            eps.discover.cache_clear()


def test_compare_with_both_analyses_prepares_the_model_once(monkeypatch, capsys):
    """Issue 9, item 2: compare --first-divergence --ablation made 3 private copies."""
    from inspector.cli import run as cli_run
    from inspector.run.analyses import analysis
    from inspector.run.execute import runner

    calls = []
    real = cli_run.prepare

    def counting(model):  # type: ignore[no-untyped-def]
        calls.append(model.name)
        return real(model)

    def forbidden(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("prepared again")

    monkeypatch.setattr(cli_run, "prepare", counting)
    monkeypatch.setattr(analysis, "prepare", forbidden)
    monkeypatch.setattr(runner, "prepare", forbidden)
    argv = ["compare", str(SAMPLES / "mlp_gelu_layernorm.onnx"), "--dim", "batch=2"]
    argv += ["--runs", "2", "--profiled-runs", "0", "--first-divergence", "--ablation"]
    argv += ["--ablation-pass", "GeluFusionL1", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert calls == ["mlp_gelu_layernorm.onnx"]
    assert "first_divergence" in out and len(out["ablation"]) == 3


def test_the_cli_and_the_run_lab_build_the_same_matrix():
    """Issue 9, item 4: one RunPlan translates both the CLI's flags and the page's widgets
    (issue 24: both through RunRequest, the page's as a RunForm)."""
    from inspector.cli import _parser
    from inspector.run.setup.request import RunForm, RunRequest

    argv = ["run", "m.onnx", "--ep", "ggml,cpu", "--level", "basic", "--level", "all"]
    argv += ["--ep-option", "ggml:threads=2", "--config", "session.disable_prepacking=1"]
    argv += ["--disable", "GeluFusionL1", "--runs", "7"]
    from_cli = RunRequest.from_args(_parser().parse_args(argv)).matrix
    form = RunForm(
        eps=("ggml → CPU",),
        levels=("basic", "all"),
        ep_options="ggml:threads=2",
        session_config="session.disable_prepacking=1",
        disabled="GeluFusionL1",
        runs=7,
    )
    from_page = RunRequest.from_form(form, {"ggml → CPU": "ggml,cpu"}).matrix
    assert from_cli == from_page
    ggml = [c for c in from_cli.configs if c.eps[0].name == "ggml"]
    assert [c.opt_level for c in ggml] == ["basic", "all"]
    assert ggml[0].eps[0].options == (("partial", "1"), ("threads", "2"))


def _cpu_all(loaded, feeds):  # type: ignore[no-untyped-def]
    """One run of CPU at level 'all', no reference."""
    base = RunConfig(warmup_runs=0, timed_runs=1, profiled_runs=0)
    mat = expand_matrix(["cpu"], ["all"], base=base, include_reference=False)
    (r,) = run_matrix(loaded, mat, feeds)
    return r


class TestRealModelInputs:
    """Issue 10: the failures real models met with default inputs, reproduced in code."""

    def run_default(self, m, name):  # type: ignore[no-untyped-def]
        from inspector.run.setup.inputs import shape_hints

        loaded = load_model(m.SerializeToString(), name=name)
        plan = InputPlan.make(hints=shape_hints(loaded))
        resolved = resolve(build_overview(loaded).inputs, plan)
        return resolved, _cpu_all(loaded, generate(resolved))

    def test_stride32_detector_runs_with_no_options(self):
        from tests.factories import stride32_detector

        resolved, r = self.run_default(stride32_detector(), "det.onnx")
        assert r.ok, r.error
        assert resolved[0].shape == (1, 3, 224, 224)
        assert any("multiple of 32" in n for n in resolved[0].notes)

    def test_detector_metadata_gives_the_image_size(self):
        from tests.factories import stride32_detector

        resolved, r = self.run_default(stride32_detector(imgsz="[320, 320]"), "det.onnx")
        assert r.ok and resolved[0].shape == (1, 3, 320, 320)
        assert any("imgsz" in n for n in resolved[0].notes)

    def test_a_failing_size_gets_a_hint_naming_the_fix(self):
        from tests.factories import stride32_detector

        loaded = load_model(stride32_detector().SerializeToString(), name="det.onnx")
        x = np.ones((1, 3, 48, 48), np.float32)  # 48/32: the upsampled map misses the ÷16 one
        r = _cpu_all(loaded, {"images": x})
        assert not r.ok and "Try: the input sizes do not fit" in r.error, r.error
        assert "/tmp/inspector-run" not in r.error

    def test_unnamed_dims_and_a_reflect_pad_run_with_no_options(self):
        from tests.factories import reflect_pad_vad

        resolved, r = self.run_default(reflect_pad_vad(), "vad.onnx")
        assert r.ok, r.error
        assert resolved[0].shape == (1, 16)

    def test_every_dim_is_settable_and_misspelt_names_are_refused(self, capsys, tmp_path):
        from tests.factories import reflect_pad_vad, stride32_detector

        src = tmp_path
        path = src / "vad.onnx"
        path.write_bytes(reflect_pad_vad().SerializeToString())
        base = ["run", str(path), "--runs", "1", "--profiled-runs", "0", "--json"]
        assert main([*base, "--shape", "input=1,512"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert all(r["status"] == "ok" for r in out["results"])
        det = src / "det.onnx"
        det.write_bytes(stride32_detector().SerializeToString())
        assert main(["run", str(det), "--dim", "heigth=64"]) == 1
        err = capsys.readouterr().err
        assert "No input has a dim named 'heigth'; the named dims are height, width" in err

    def test_string_inputs_draw_from_the_models_own_categories(self):
        from tests.factories import string_pipeline

        resolved, r = self.run_default(string_pipeline(), "pipe.onnx")
        assert r.ok, r.error
        assert resolved[0].choices == ("male", "female")
        values = set(np.unique(r.output_arrays()["codef"]))
        assert values <= {0.0, 1.0} and -1.0 not in values  # every value a known category

    def test_a_single_file_binds_to_a_single_input(self):
        buf = io.BytesIO()
        np.save(buf, np.ones((1, 4), np.float32))
        arrays = load_input_files({"whatever.npy": buf.getvalue()}, ["data_0"])
        assert list(arrays) == ["data_0"]
        with pytest.raises(InputError, match="match no graph input; the inputs are a, b"):
            load_input_files({"whatever.npy": buf.getvalue()}, ["a", "b"])


def test_probe_finds_sizes_that_run_when_the_suggested_ones_do_not(capsys, tmp_path):
    """Issue 10, item 3: the one-flag fix the tool proposes. Metadata says 48 (not a multiple of
    the stride 32 this neck needs, and no 'stride' key to round by): --probe finds 32."""
    from tests.factories import stride32_detector

    m = stride32_detector()
    m.metadata_props.add(key="imgsz", value="48")
    path = tmp_path / "det48.onnx"
    path.write_bytes(m.SerializeToString())
    base = ["run", str(path), "--runs", "1", "--profiled-runs", "0", "--no-reference"]
    assert main(base) == 1
    assert "let --probe find sizes that run" in capsys.readouterr().err
    assert main([*base, "--probe"]) == 0
    err = capsys.readouterr().err
    assert "→ runs at 32: --shape images=1,3,32,32" in err


class TestNonTensorInputs:
    """Issue 10, item 4: optional and sequence inputs, generated and from .pb files."""

    def test_generated_with_no_options(self, capsys, tmp_path):
        from tests.factories import optional_sequence_input

        path = tmp_path / "optseq.onnx"
        path.write_bytes(optional_sequence_input().SerializeToString())
        argv = ["run", str(path), "--runs", "1", "--profiled-runs", "0", "--no-reference"]
        assert main([*argv, "--out", str(tmp_path / "o")]) == 0
        err = capsys.readouterr().err
        assert "an empty optional" in err and "a sequence of 2 tensors" in err
        out = tmp_path / "o" / "run_00"
        assert bool(np.load(out / "has.npy")) is False and int(np.load(out / "n.npy")) == 2
        assert sorted(p.name for p in (tmp_path / "o" / "inputs").iterdir()) == [
            "seq_0.npy",
            "seq_1.npy",
        ]

    def test_from_sequence_and_optional_protos(self, capsys, tmp_path):
        from onnx import numpy_helper

        from tests.factories import optional_sequence_input

        path = tmp_path / "optseq.onnx"
        path.write_bytes(optional_sequence_input().SerializeToString())
        data = tmp_path / "test_data_set_0"
        data.mkdir()
        three = [np.full(2, i, np.float32) for i in range(3)]
        seq = numpy_helper.from_list(three, name="seq")
        opt = numpy_helper.from_optional(three[:1], name="opt")
        (data / "input_0.pb").write_bytes(opt.SerializeToString())
        (data / "input_1.pb").write_bytes(seq.SerializeToString())
        argv = ["run", str(path), "--input", str(data), "--runs", "1", "--profiled-runs", "0"]
        assert main([*argv, "--no-reference", "--out", str(tmp_path / "o")]) == 0
        out = tmp_path / "o" / "run_00"
        assert bool(np.load(out / "has.npy")) is True and int(np.load(out / "n.npy")) == 3

    def test_an_oversized_sequence_element_is_refused_before_decoding(self):
        t = onnx.TensorProto(name="seq", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20])
        seq = onnx.SequenceProto(name="seq", elem_type=onnx.SequenceProto.TENSOR)
        seq.tensor_values.append(t)
        with pytest.raises(InputError, match="declares"):
            load_input_files(
                {"input_0.pb": seq.SerializeToString()}, ["seq"], kinds={"seq": "sequence"}
            )


def test_jobs_runs_configurations_at_once_and_says_so(capsys):
    """Issue 11: --jobs N, with honest timings (each result says it shared the machine)."""
    argv = ["run", str(SAMPLES / "cnn_conv_bn_relu.onnx"), "--level", "basic", "--level", "all"]
    argv += ["--runs", "3", "--profiled-runs", "1", "--jobs", "2", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    results = json.loads(captured.out)["results"]
    assert [r["label"] for r in results] == [
        "reference · CPU · disable_all",
        "CPU · basic",
        "CPU · all",
    ]
    assert all(r["status"] == "ok" for r in results)
    assert all(any("ran concurrently" in n for n in r["notes"]) for r in results)
    assert "ran 2 at a time" in captured.err


def test_divergence_chunks_grow_to_the_byte_budget():
    """64 tensors first; then as many as fit divergence_chunk_bytes at the measured average
    size, at most 8× the last chunk, never below divergence_chunk (10k-node export: 168 s →
    15 s, bench/bench_peers.py)."""
    from inspector.limits import DEFAULT_LIMITS, MiB
    from inspector.run.analyses.bisect import next_chunk

    lim = replace(DEFAULT_LIMITS, divergence_chunk=64, divergence_chunk_bytes=64 * MiB)
    assert next_chunk(64, 64 * 128, 64, lim) == 512  # 128-byte tensors: capped at 8×
    assert next_chunk(512, 512 * 128, 512, lim) == 4096
    assert next_chunk(4096, 4096 * 128, 4096, lim) == 32768
    assert next_chunk(64, 64 * MiB, 64, lim) == 64  # 1 MiB each: the budget holds 64
    assert next_chunk(64, 64 * 16 * MiB, 64, lim) == 64  # never below the first chunk
    assert next_chunk(64, 0, 64, lim) == 512  # nothing returned (all fused): grow

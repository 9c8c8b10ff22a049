"""The host's measured peaks, in a child interpreter of their own: a float32 GEMM (GFLOP/s) and
an array copy (memory bandwidth), and the rates ONNX Runtime's own kernels reach here (a float32
MatMul, a 3×3 float32 Conv, an int8 MatMulInteger), printed as JSON on stdout. Started by
:func:`inspector.run.analyses.roofline.measure_peaks` through :mod:`inspector.isolation.spawn`
(``python -I`` running this function, a minimal environment, BLAS threads set), never in the
server's own process: its BLAS threads and 128 MiB arrays stay out of it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor


def bench(n: int, reps: int, nbytes: int, copy_reps: int, threads: int) -> None:
    """Time ``reps`` n×n float32 matmuls and ``copy_reps`` copies of ``nbytes`` over
    ``threads`` threads, after a warm-up of each; print ``{"matmul_s": [...], "copy_s": [...]}``."""
    import numpy as np

    # ONNX Runtime's kernels first: BLAS threads that spin after numpy's GEMM took the second
    # core from ONNX Runtime's pool (its Conv measured at one thread's rate with two).
    rates = ort_rates(n, reps, threads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: BLAS threads start, pages are touched
    matmul = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        matmul.append(time.perf_counter() - t)
    copies: list[float] = []
    per_copy: dict[int, list[float]] = {size: [] for size in CACHE_WORKING_SETS}
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        while not copies or time.perf_counter() - start < COPY_WINDOW_S:  # rounds: see there
            copies += timed_copies(pool, threads, nbytes // 4, 1, copy_reps)
            for size in CACHE_WORKING_SETS:  # src + dst = the working set; ~256 MiB a repetition
                repeat = max(1, (256 << 20) // size)
                per_copy[size] += timed_copies(pool, threads, size // 8, repeat, copy_reps)
    cached = [[size, min(times)] for size, times in per_copy.items()]
    print(json.dumps({"matmul_s": matmul, "copy_s": copies, "cache_copy": cached, **rates}))


#: The copies are timed in rounds (each size's repetitions in turn) until this many seconds have
#: passed, and each size's best is kept. One round takes ~0.2 s, inside one of this host's speed
#: episodes (~0.1–1 s: timing.SHORT_WINDOW_S): a 64 MiB copy timed in one round once read
#: ~23 GB/s where its best is 34–43 (one thread, AMD EPYC), and a real model's elementwise
#: kernels then ran at 1.3–2.4× a roof that should bound them (real-model invariant 7).
COPY_WINDOW_S = 1.5


#: Working sets (bytes read + written by one copy) of the in-cache copies: within the L2/L3
#: caches of today's server CPUs, and past them. Smaller ones are not timed: a numpy call's
#: ~1 µs overhead would dominate their copy. Measured 2026-12-06 on an AMD EPYC with 2
#: threads: 154 GB/s at 4 MiB, 170 at 16 MiB, 84 at 64 MiB, against 21–37 GB/s for 128–256 MiB.
CACHE_WORKING_SETS = (4 << 20, 16 << 20, 64 << 20)


def timed_copies(
    pool: ThreadPoolExecutor, threads: int, floats: int, times: int, reps: int
) -> list[float]:
    """Seconds per copy of a ``floats``-long float32 array split over ``threads``, for each of
    ``reps`` repetitions after a warm-up: each thread copies its share ``times`` times in a row
    (the pool's dispatch paid once per repetition), so an array that fits a cache is copied
    from it; ``times=1`` for one that does not."""
    import numpy as np

    src = np.ones(floats, np.float32)
    dst = np.zeros_like(src)
    step = -(-src.size // threads)
    chunks = [(src[i : i + step], dst[i : i + step]) for i in range(0, src.size, step)]

    def loop(chunk: tuple) -> None:
        for _ in range(times):
            np.copyto(chunk[1], chunk[0])

    list(pool.map(loop, chunks))  # warm-up: pages are touched, a small array comes into cache
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        list(pool.map(loop, chunks))
        out.append((time.perf_counter() - t) / times)
    return out


#: The Conv whose rate :func:`ort_rates` measures: 128 → 128 channels, 3×3, 40×40, padded — a
#: detector's common layer, which ONNX Runtime runs as its NCHWc kernel at level all.
CONV_CHANNELS, CONV_SIDE = 128, 40


#: Repetitions of each ONNX Runtime kernel at least (a few ms each): with two threads on a
#: shared machine the best of 5 was up to 20 % below what a model's own Conv reached.
ORT_REPS = 15


def conv_flops() -> int:
    """FLOPs of :func:`ort_rates`' Conv (2 per multiply-add; no bias)."""
    return 2 * CONV_CHANNELS * CONV_SIDE**2 * CONV_CHANNELS * 9


def ort_rates(n: int, reps: int, threads: int) -> dict[str, list[float]]:
    """The best times of ONNX Runtime's kernels on this machine, ``threads`` intra-op threads,
    level all, after a warm-up run: a float32 n×n MatMul, the Conv above, and an n×n
    MatMulInteger (uint8 × int8 → int32: the int8 kernels quantized models run). Measured
    2026-12-06 on an AMD EPYC (Zen 4), one thread: numpy's float32 GEMM 99 GFLOP/s, ONNX
    Runtime's MatMul 98, its NCHWc Conv 117 — above the GEMM, which is why the compute roof is
    the best of them — and MatMulInteger ~430 GOP/s. A kernel that cannot be timed (no
    onnxruntime here) is left out: the roof is then the GEMM's."""
    try:
        import numpy as np
        import onnxruntime as ort

        from inspector.model.proto import ModelProto
    except ImportError:
        return {}
    side, ch = CONV_SIDE, CONV_CHANNELS
    cases = {  # op, input shape and type, weight shape and type, output type, INTS attributes
        "ort_matmul_s": ("MatMul", [n, n], 1, [n, n], 1, 1, {}),
        "ort_conv_s": (
            "Conv", [1, ch, side, side], 1, [ch, ch, 3, 3], 1, 1, {"pads": [1, 1, 1, 1]}
        ),
        "ort_int8_s": ("MatMulInteger", [n, n], 2, [n, n], 3, 6, {}),  # uint8 × int8 → int32
    }  # fmt: skip
    rng = np.random.default_rng(0)
    out: dict[str, list[float]] = {}
    for key, (op, x_shape, x_type, w_shape, w_type, y_type, ints) in cases.items():
        model = ModelProto(ir_version=8)
        model.opset_import.add(domain="", version=17)
        graph = model.graph
        graph.name = op
        node = graph.node.add(op_type=op, input=["x", "w"], output=["y"])
        for name, values in ints.items():
            node.attribute.add(name=name, ints=values, type=7)  # AttributeProto.INTS
        dtype = {1: np.float32, 2: np.uint8, 3: np.int8}
        weight = graph.initializer.add(name="w", data_type=w_type, dims=w_shape)
        weight.raw_data = (rng.random(w_shape) * 100).astype(dtype[w_type]).tobytes()
        graph.output.add(name="y").type.tensor_type.elem_type = y_type
        x = graph.input.add(name="x").type.tensor_type
        x.elem_type = x_type
        for d in x_shape:
            x.shape.dim.add(dim_value=d)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
            feed = {"x": (rng.random(x_shape) * 100).astype(dtype[x_type])}
            session.run(None, feed)  # warm-up: the thread pool starts, weights are packed
            times = []
            for _ in range(max(reps, ORT_REPS)):
                t = time.perf_counter()
                session.run(None, feed)
                times.append(time.perf_counter() - t)
            out[key] = times
        except Exception:  # an EP build without this kernel: that rate is not measured
            continue
    return out

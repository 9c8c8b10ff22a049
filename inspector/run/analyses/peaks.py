"""The host's measured peaks, in a child interpreter of their own: a float32 GEMM (GFLOP/s) and
an array copy (memory bandwidth), printed as JSON on stdout. Started by
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

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: BLAS threads start, pages are touched
    matmul = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        matmul.append(time.perf_counter() - t)
    src = np.ones(nbytes // 4, np.float32)
    dst = np.zeros_like(src)
    step = -(-src.size // threads)
    chunks = [(src[i : i + step], dst[i : i + step]) for i in range(0, src.size, step)]
    copies = []
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda c: np.copyto(c[1], c[0]), chunks))  # warm-up
        for _ in range(copy_reps):
            t = time.perf_counter()
            list(pool.map(lambda c: np.copyto(c[1], c[0]), chunks))
            copies.append(time.perf_counter() - t)
    print(json.dumps({"matmul_s": matmul, "copy_s": copies}))

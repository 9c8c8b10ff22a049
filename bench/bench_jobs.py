"""What running a matrix as a job costs, against running it directly, in the same process.

A job (run/execute/jobs.py) runs the same run_matrix in a queue's runner thread; the extra is
the queue, the thread and the hand-back. Rounds interleave direct and job runs of the same
3-configuration matrix on the CNN sample; the ratio of medians is printed (target ≤ 1.10×).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector import load_model  # noqa: E402
from inspector.run.execute.jobs import JobQueue, MatrixRun  # noqa: E402
from inspector.run.execute.runner import run_matrix  # noqa: E402
from inspector.run.setup.config import RunConfig, expand_matrix  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_models" / "cnn_conv_bn_relu.onnx"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    model = load_model(SAMPLE)
    matrix = expand_matrix(
        ["cpu"], ["basic", "all"], base=RunConfig(warmup_runs=2, timed_runs=50, profiled_runs=3)
    )
    feeds = {"image": np.random.default_rng(0).standard_normal((1, 3, 32, 32), np.float32)}
    queue = JobQueue(slots=1)
    direct, job = [], []
    for i in range(args.repeat):
        print(f"round {i + 1}/{args.repeat} …", file=sys.stderr, flush=True)
        t = time.perf_counter()
        run_matrix(model, matrix, feeds)
        direct.append(time.perf_counter() - t)
        t = time.perf_counter()
        queue.wait(queue.submit("bench", "k", MatrixRun(model, matrix, feeds)))
        job.append(time.perf_counter() - t)
    ratio = statistics.median(j / d for d, j in zip(direct, job, strict=True))
    print(f"direct s  {', '.join(f'{x:.3f}' for x in direct)}")
    print(f"job s     {', '.join(f'{x:.3f}' for x in job)}")
    print(f"job/direct {ratio:.3f}x  target <= 1.10x  {'PASS' if ratio <= 1.10 else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

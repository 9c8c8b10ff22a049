"""Ray task overhead per configuration: the same matrix run locally and on a local two-node
Ray cluster (head + one node), interleaved; prints seconds per configuration and the ratio.

Each configuration is one Ray task that rebuilds the model from the object store and runs the
same confined worker as a local run; the difference is the task round trip plus that rebuild.
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
from inspector.run.execute.cluster import run_matrix_ray  # noqa: E402
from inspector.run.execute.runner import run_matrix  # noqa: E402
from inspector.run.setup.config import RunConfig, expand_matrix  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_models" / "cnn_conv_bn_relu.onnx"


def main(argv: list[str] | None = None) -> int:
    import ray
    from ray.cluster_utils import Cluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "resources": {"ep_CPUExecutionProvider": 1000},
            "include_dashboard": False,
        },
    )
    cluster.add_node(num_cpus=1, resources={"ep_CPUExecutionProvider": 1000})
    try:
        model = load_model(SAMPLE)
        matrix = expand_matrix(
            ["cpu"], ["basic", "all"], base=RunConfig(warmup_runs=2, timed_runs=50, profiled_runs=3)
        )
        feeds = {"image": np.random.default_rng(0).standard_normal((1, 3, 32, 32), np.float32)}
        n = len(matrix.configs)
        run_matrix_ray(model, matrix, feeds, cluster.address)  # connect and warm the workers
        local, remote = [], []
        for i in range(args.repeat):
            print(f"round {i + 1}/{args.repeat} …", file=sys.stderr, flush=True)
            t = time.perf_counter()
            run_matrix(model, matrix, feeds)
            local.append((time.perf_counter() - t) / n)
            t = time.perf_counter()
            run_matrix_ray(model, matrix, feeds, cluster.address)
            remote.append((time.perf_counter() - t) / n)
    finally:
        ray.shutdown()
        cluster.shutdown()
    ratio = statistics.median(r / lo for lo, r in zip(local, remote, strict=True))
    print(f"local s/config  {', '.join(f'{x:.3f}' for x in local)}")
    print(f"ray s/config    {', '.join(f'{x:.3f}' for x in remote)}")
    extra = statistics.median(remote) - statistics.median(local)
    print(f"ray/local {ratio:.2f}x; Ray adds {extra:+.3f} s per configuration")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

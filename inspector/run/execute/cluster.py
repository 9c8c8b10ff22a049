"""Run a matrix across machines with Ray: each configuration goes to a node that has its EP.

Providers live on different machines (CUDA/TensorRT on a GPU box, OpenVINO on an Intel host,
CoreML on a Mac). A node advertises the EPs that are *usable* on it as Ray custom resources
``ep_<name>`` (``onnx-inspector ray-worker`` probes and starts the node with them); a
configuration asks for the resource of its preferred EP, so Ray places it on a node that has
it. The model, its external-data files and the inputs travel through Ray's object store (no
shared file system); inside the task the configuration runs exactly as locally — a confined
worker in a private folder, with its memory cap and timeout — and the result says where it ran.

A matrix on Ray behaves as one on local workers (:func:`run_matrix_ray` is an
:class:`~.runner.Executor`): progress per configuration, each result as it comes,
and a cancel that stops the outstanding tasks. The server's job queue runs its matrices there
when ``INSPECTOR_RAY_ADDRESS`` (:data:`ADDRESS_ENV`) is set.

Ray is an optional extra (``pip install onnx-inspector[ray]``): nothing here imports it until a
function is called, and without ``--ray`` nothing changes.
"""

from __future__ import annotations

import ipaddress
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from inspector.errors import InspectorError
from inspector.limits import RAY_ADDRESS_ENV, Limits
from inspector.model.external import build_external_data
from inspector.model.load import LoadedModel, load_model
from inspector.run.readout.results import RunResult, failed
from inspector.run.setup.config import Matrix, RunConfig

if TYPE_CHECKING:
    from inspector.run.execute.runner import Executor, ProgressFn

RESOURCE_PREFIX = "ep_"
#: Units of an EP resource a node advertises: placement is by EP, concurrency by num_cpus.
CAPACITY = 1000.0
ADDRESS_ENV = RAY_ADDRESS_ENV


class ClusterError(InspectorError):
    """Ray is missing, unreachable, or no node can run a configuration."""

    kind = "cluster"


def resource_name(ep: str) -> str:
    return RESOURCE_PREFIX + ep


def node_resources() -> dict[str, float]:
    """The custom resources this machine should advertise: one per usable EP (CPU included)."""
    from inspector.run.setup.eps import discover

    return {
        resource_name(e.name): CAPACITY
        for e in discover()
        if e.usable and e.name != "AzureExecutionProvider"
    }


def start_command(
    address: str | None, head_port: int | None = None, node_ip: str | None = None
) -> list[str]:
    """``ray start`` for this machine: join ``address`` (or start a head on ``head_port``) and
    advertise its usable EPs. ``node_ip``: the address of this machine on the cluster's private
    network, the one Ray advertises and other members connect to (``--node-ip-address``). Ray's
    dashboard and its job-submission API are not started: the inspector does not use them."""
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start"]
    cmd += (
        ["--head", f"--port={head_port or 6379}"] if address is None else [f"--address={address}"]
    )
    if node_ip is not None:
        try:
            ip = ipaddress.ip_address(node_ip)
        except ValueError:
            raise ClusterError(
                f"--node-ip-address {node_ip[:80]!r} is not an IP address: give this machine's "
                "address on the cluster's private network (e.g. 10.0.0.5)"
            ) from None
        cmd.append(f"--node-ip-address={ip}")
    cmd += [
        f"--resources={json.dumps(node_resources())}",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    return cmd


def _payload(model: LoadedModel) -> dict[str, Any]:
    """The model's bytes and the external-data files it references, for the object store."""
    files = {}
    for f in build_external_data(model).files:
        size = model.companions.size(f.name)
        if size is not None:
            files[f.name] = model.companions.read(f.name, 0, size)
    return {"model": model.proto.SerializeToString(), "name": model.name, "files": files}


def _where() -> tuple[tuple[str, str], ...]:
    from inspector.run.setup.eps import cpu_name

    node = ""
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - outside a Ray task
        pass
    try:
        from importlib.metadata import version

        ort = version("onnxruntime")
    except Exception:  # noqa: BLE001
        ort = ""
    return (
        ("host", socket.gethostname()),
        ("node", node),
        ("cpu", cpu_name()),
        ("machine", platform.machine()),
        ("onnxruntime", ort),
    )


def run_here(
    payload: Mapping[str, Any],
    config: RunConfig,
    inputs: Mapping[str, Any],
    limits: Limits | None,
) -> RunResult:
    """The Ray task body: rebuild the model from the payload and run one configuration
    locally (confined worker, private folder, cap, timeout); record where it ran.

    The run goes on in a thread so that a cancel (``ray.cancel``: a KeyboardInterrupt in this
    thread) stops the worker and removes its private folder before the task ends."""
    from inspector.run.execute.runner import run_matrix

    model = load_model(payload["model"], dict(payload["files"]), name=payload["name"])
    stop = threading.Event()
    made: list[RunResult] = []

    def run() -> None:
        made.extend(run_matrix(model, Matrix((config,)), inputs, limits=limits, cancel=stop))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        stop.set()
        thread.join()
        raise
    (result,) = made
    return replace(result, placement=_where())


def _connect(address: str) -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError(
            "--ray needs Ray: pip install 'onnx-inspector[ray]' (or pip install ray)."
        ) from None
    try:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - connection errors come in many types
        raise ClusterError(f"Cannot reach the Ray cluster at {address}: {exc}") from None
    return ray


#: Seconds a cancelled Ray task gets to stop its worker and remove its folder before it is
#: killed (``ray.cancel(force=True)``: the worker then dies with it, the folder stays).
CANCEL_GRACE_S = 5.0


def run_matrix_ray(
    model: LoadedModel,
    matrix: Matrix,
    inputs: Mapping[str, Any],
    address: str | None = None,
    *,
    limits: Limits | None = None,
    progress: ProgressFn | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    cancel: threading.Event | None = None,
    timeout_s: float | None = None,
) -> tuple[RunResult, ...]:
    """Each configuration as a Ray task on a node that advertises its preferred EP: an
    :class:`~.runner.Executor` like :func:`~.runner.run_matrix`.
    ``address``: the cluster's (default: ``$INSPECTOR_RAY_ADDRESS``). Every configuration is
    submitted at once (Ray places them); results come in the matrix's order. ``cancel`` stops
    the outstanding tasks (those not started never start) and no result follows."""
    address = address or os.environ.get(ADDRESS_ENV, "")
    if not address:
        raise ClusterError(f"No Ray cluster to run on: give its address or set {ADDRESS_ENV}.")
    ray = _connect(address)
    available = set(ray.cluster_resources())
    task: Any = ray.remote(run_here)
    payload: Any = ray.put(_payload(model))
    feeds: Any = ray.put(dict(inputs))
    pending: list[tuple[RunConfig, Any]] = []
    for config in matrix.configs:
        need = resource_name(config.eps[0].name)
        ref = None
        if need in available:
            ref = task.options(num_cpus=1, resources={need: 1}).remote(
                payload, config, feeds, limits
            )
        pending.append((config, ref))
    wait_s = timeout_s or float((limits or model.limits).run_timeout_s) * 2 + 60
    results: list[RunResult] = []
    n = len(pending)
    try:
        for i, (config, ref) in enumerate(pending):
            if cancel is not None and cancel.is_set():
                break
            if progress:
                progress(i, n, config.label, "start")
            results.append(_collect(ray, config, ref, wait_s, cancel))
            if on_result:
                on_result(results[-1])
            if progress:
                progress(i, n, config.label, "done")
    finally:
        _stop(ray, [ref for _, ref in pending[len(results) :] if ref is not None])
    return tuple(results)


def _collect(
    ray: Any, config: RunConfig, ref: Any, wait_s: float, cancel: threading.Event | None
) -> RunResult:
    """One configuration's result: its task's, or why there is none."""
    if ref is None:
        return failed(
            config,
            "no_node",
            f"{config.label}: no node of the cluster advertises {config.eps[0].name} "
            f"(resource {resource_name(config.eps[0].name)}); start one with "
            "onnx-inspector ray-worker on a machine that has it.",
        )
    deadline = time.monotonic() + wait_s
    while not ray.wait([ref], timeout=0.2)[0]:  # poll: a cancel must stop it at once
        if cancel is not None and cancel.is_set():
            _stop(ray, [ref])
            return failed(
                config, "cancelled", f"{config.label}: cancelled; its Ray task was stopped."
            )
        if time.monotonic() > deadline:
            _stop(ray, [ref])
            return failed(
                config, "cluster", f"{config.label}: the Ray task gave no result in {wait_s:g} s"
            )
    try:
        return ray.get(ref)
    except Exception as exc:  # noqa: BLE001 - a task error is one configuration's failure
        return failed(config, "cluster", f"{config.label}: the Ray task failed: {exc}")


def _stop(ray: Any, refs: list[Any]) -> None:
    """Cancel ``refs``: one not started never starts; a running one stops its worker and
    removes its folder, or is killed after :data:`CANCEL_GRACE_S`."""
    for ref in refs:
        ray.cancel(ref)
    if not refs:
        return
    _, left = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
    for ref in left:
        ray.cancel(ref, force=True)


def executor(address: str | None = None) -> Executor:
    """Where a matrix runs: on the Ray cluster at ``address`` (default:
    ``$INSPECTOR_RAY_ADDRESS``) when there is one, else on this machine's workers."""
    from inspector.run.execute.runner import run_matrix

    address = address or os.environ.get(ADDRESS_ENV, "")
    if not address:
        return run_matrix

    def on_ray(
        model: LoadedModel,
        matrix: Matrix,
        inputs: Mapping[str, Any],
        *,
        limits: Limits | None = None,
        progress: ProgressFn | None = None,
        on_result: Callable[[RunResult], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[RunResult, ...]:
        return run_matrix_ray(
            model,
            matrix,
            inputs,
            address,
            limits=limits,
            progress=progress,
            on_result=on_result,
            cancel=cancel,
        )

    return on_ray


#: Said whenever a node is started: what joining a cluster grants (docs/ray.md, Security).
TRUST_NOTE = (
    "note: every member of a Ray cluster can run code on every other one, the head included "
    "(tasks and results are pickles). Join only machines you trust, on a private network, "
    "and firewall Ray's ports to them: Ray listens on all interfaces whatever "
    "--node-ip-address says (docs/ray.md)."
)


def ray_worker(
    address: str | None,
    head_port: int | None = None,
    dry_run: bool = False,
    node_ip: str | None = None,
) -> int:
    """``onnx-inspector ray-worker``: start this machine as a Ray node advertising its EPs."""
    cmd = start_command(address, head_port, node_ip)
    print(" ".join(cmd[3:]) if dry_run else "starting: " + " ".join(cmd[3:]), flush=True)
    print(TRUST_NOTE, file=sys.stderr, flush=True)
    if dry_run:
        return 0
    return subprocess.call(cmd, env=dict(os.environ))

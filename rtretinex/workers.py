"""Many videos at once: local worker processes (``--jobs N``) or tasks on a Ray cluster
(``--ray``). Each worker runs ``jobs.transcode_file`` on one file and returns its report,
so a batch keeps the guarantees of one file (atomic outputs, a broken file reported while
the rest go on, complete outputs skipped on a re-run).

Stopping: Ctrl-C reaches the local workers too (one process group); SIGTERM/SIGHUP reach
the parent, which passes them on. A worker stops like a single run (its unfinished output
is removed), and the batch reports "interrupted". On Ray, pending tasks are cancelled;
a worker that dies is retried by Ray (``RAY_RETRIES``).
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .errors import UsageError
from .jobs import BackendChoice, FileReport, transcode_file

__all__ = ["RAY_RETRIES", "default_jobs", "run_local", "run_on_ray"]

# Times Ray runs a file again after the worker running it died.
RAY_RETRIES = 2
OnReport = Callable[[FileReport], None]


def default_jobs(backend: BackendChoice) -> int:
    """Workers for this machine: a pipeline keeps about two cores busy (decoder, enhancer,
    encoder threads), so one per two cores; one for GPU backends (one device)."""
    if backend.name in ("tensorrt", "cuda"):
        return 1
    return max(1, (os.cpu_count() or 2) // 2)


def _stop_by_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _worker_init() -> None:
    """In each worker: SIGTERM/SIGHUP stop a file the way Ctrl-C does."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_by_signal)


def run_local(jobs: list[tuple[Path, Path]], workers: int, on_report: OnReport,
              **options) -> list[FileReport]:
    """``transcode_file`` for each job in ``workers`` processes; ``on_report`` is called as
    each file finishes. Reports come back in the jobs' order."""
    reports: dict[int, FileReport] = {}
    context = multiprocessing.get_context("spawn")  # no forked copies of threads or nets
    pool = futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init)
    pending = {pool.submit(transcode_file, src, dst, **options): k
               for k, (src, dst) in enumerate(jobs)}
    try:
        for future in futures.as_completed(pending):
            k = pending[future]
            try:
                report = future.result()
            except BrokenProcessPool:  # a worker was killed (OOM, kill -9)
                report = FileReport(str(jobs[k][0]), str(jobs[k][1]), "failed",
                                    error="a worker process died; run again to redo it")
            reports[k] = report
            on_report(report)
    except KeyboardInterrupt as exc:
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker stops its file cleanly
        stopped_by = str(exc) or "SIGINT"
        for k in pending.values():
            if k not in reports:
                src, dst = jobs[k]
                reports[k] = FileReport(str(src), str(dst), "interrupted",
                                        stopped_by=stopped_by)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [reports[k] for k in sorted(reports)]


def _ray_transcode(source: Path, target: Path, options: dict) -> FileReport:
    """A Ray task: one file; a failure names the node (inputs and outputs must be on storage
    every node can see)."""
    report = transcode_file(source, target, **options)
    if report.status == "failed":
        report.error = f"on {socket.gethostname()}: {report.error}"
    return report


def _check_reachable(address: str, seconds: float = 10.0) -> None:
    """Fail in one line, within ``seconds``, when a HOST:PORT address does not answer (Ray
    itself would keep retrying for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local" or a ray:// client address: Ray's own checks apply
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise UsageError(f"cannot connect to the Ray cluster at {address}: "
                         f"{exc.strerror or exc}") from None


def run_on_ray(jobs: list[tuple[Path, Path]], address: str, on_report: OnReport,
               **options) -> list[FileReport]:
    """``transcode_file`` for each job as a task on the Ray cluster at ``address`` ("auto":
    the one ``RAY_ADDRESS`` or ``ray start`` names), each asking for one CPU (a GPU for the
    GPU backends); ``on_report`` as each file finishes."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'rtretinex[ray]'") from None
    _check_reachable(address)
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False,
                 ignore_reinit_error=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageError(f"cannot connect to the Ray cluster at {address}: "
                         f"{str(exc).splitlines()[0]}") from None
    backend = options.get("backend") or BackendChoice()
    gpus = 1 if backend.name in ("tensorrt", "cuda") else 0
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=RAY_RETRIES)(_ray_transcode)
    pending = {task.remote(src, dst, options): k for k, (src, dst) in enumerate(jobs)}
    reports: dict[int, FileReport] = {}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                k = pending.pop(ref)
                try:
                    report = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the worker died RAY_RETRIES + 1 times
                    first = str(exc).strip().splitlines()[0]
                    report = FileReport(str(jobs[k][0]), str(jobs[k][1]), "failed",
                                        error=f"Ray task failed: {first}")
                reports[k] = report
                on_report(report)
    except KeyboardInterrupt as exc:
        for ref, k in pending.items():
            ray.cancel(ref)
            reports[k] = FileReport(str(jobs[k][0]), str(jobs[k][1]), "interrupted",
                                    stopped_by=str(exc) or "SIGINT")
    return [reports[k] for k in sorted(reports)]

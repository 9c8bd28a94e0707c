"""Many videos at once: local worker processes (``--jobs N``) or tasks on a Ray cluster
(``--ray``). Each worker runs ``jobs.transcode_file`` on one file and returns its report,
so a batch keeps the guarantees of one file (atomic outputs, a broken file reported while
the rest go on, complete outputs skipped on a re-run).

Stopping: Ctrl-C reaches the local workers too (one process group); SIGTERM/SIGHUP reach
the parent, which passes them on. A worker stops like a single run (its unfinished output
is removed), and the batch reports "interrupted". On Ray, pending tasks are cancelled;
a worker that dies is retried by Ray (``RAY_RETRIES``).

Progress: each worker sends (job, frames done, frames in the file) when a file starts and
then at most every ``PROGRESS_SECONDS`` (a multiprocessing queue for local workers, a Ray
queue on a cluster), so a batch of long files shows its frames moving, not only files
finishing.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import queue
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .errors import UsageError
from .frame.enhancer import Enhancer
from .jobs import BackendChoice, FileReport, transcode_file
from .video.pipeline import PipelineStats
from .video.sources import Source

__all__ = ["RAY_RETRIES", "default_jobs", "run_local", "run_on_ray"]

# Times Ray runs a file again after the worker running it died.
RAY_RETRIES = 2
# How often a worker reports its frames (and the parent looks for reports).
PROGRESS_SECONDS = 0.25
OnReport = Callable[[FileReport], None]
# (job index, frames done, frames in the file or None when the file does not say)
OnProgress = Callable[[int, int, "int | None"], None]


def default_jobs(backend: BackendChoice) -> int:
    """Workers for this machine: a pipeline keeps about two cores busy (decoder, enhancer,
    encoder threads), so one per two cores; one for GPU backends (one device)."""
    if backend.name in ("tensorrt", "cuda"):
        return 1
    return max(1, (os.cpu_count() or 2) // 2)


def _stop_by_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


class _ProgressSender:
    """In a worker: ``transcode_file``'s on_file/on_frame callbacks, sending (job, frames,
    total) through ``put`` when the file starts and at most every PROGRESS_SECONDS."""

    def __init__(self, job: int, put: Callable[[tuple], None]) -> None:
        self.job, self.put = job, put
        self.total: int | None = None
        self.sent = 0.0

    def on_file(self, _path: Path, source: Source, _enhancer: Enhancer) -> None:
        self.total, self.sent = source.frame_count, time.monotonic()
        self.put((self.job, 0, self.total))

    def on_frame(self, stats: PipelineStats) -> None:
        now = time.monotonic()
        if now - self.sent >= PROGRESS_SECONDS:
            self.sent = now
            self.put((self.job, stats.frames, self.total))


def _drain(get_nowait: Callable[[], tuple], on_progress: OnProgress | None) -> None:
    """Hand every progress message waiting in a queue to ``on_progress``."""
    while True:
        try:
            message = get_nowait()
        except (queue.Empty, EOFError, OSError):
            return
        if on_progress is not None:
            on_progress(*message)


_progress_queue: multiprocessing.Queue | None = None  # in a local worker


def _worker_init(progress: multiprocessing.Queue) -> None:
    """In each worker: SIGTERM/SIGHUP stop a file the way Ctrl-C does; progress goes to
    the parent's queue."""
    global _progress_queue
    _progress_queue = progress
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_by_signal)


def _local_transcode(job: int, source: Path, target: Path, options: dict) -> FileReport:
    """A local worker's file, its progress sent to the parent."""
    sender = _ProgressSender(job, _progress_queue.put)
    return transcode_file(source, target, on_file=sender.on_file, on_frame=sender.on_frame,
                          **options)


def run_local(jobs: list[tuple[Path, Path]], workers: int, on_report: OnReport,
              on_progress: OnProgress | None = None, **options) -> list[FileReport]:
    """``transcode_file`` for each job in ``workers`` processes; ``on_report`` is called as
    each file finishes, ``on_progress`` as frames are done (a file's messages may still
    arrive just after its report). Reports come back in the jobs' order."""
    reports: dict[int, FileReport] = {}
    context = multiprocessing.get_context("spawn")  # no forked copies of threads or nets
    progress = context.Queue()
    pool = futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                                       initargs=(progress,))
    pending = {pool.submit(_local_transcode, k, src, dst, options): k
               for k, (src, dst) in enumerate(jobs)}
    try:
        running = set(pending)
        while running:
            done, running = futures.wait(running, timeout=PROGRESS_SECONDS,
                                         return_when=futures.FIRST_COMPLETED)
            _drain(progress.get_nowait, on_progress)
            for future in done:
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
        progress.close()
    return [reports[k] for k in sorted(reports)]


def _ray_transcode(job: int, source: Path, target: Path, options: dict, progress
                   ) -> FileReport:
    """A Ray task: one file, its progress put on the ``progress`` Ray queue; a failure
    names the node (inputs and outputs must be on storage every node can see)."""
    sender = _ProgressSender(job, progress.put_nowait)
    report = transcode_file(source, target, on_file=sender.on_file, on_frame=sender.on_frame,
                            **options)
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
               on_progress: OnProgress | None = None, **options) -> list[FileReport]:
    """``transcode_file`` for each job as a task on the Ray cluster at ``address`` ("auto":
    the one ``RAY_ADDRESS`` or ``ray start`` names), each asking for one CPU (a GPU for the
    GPU backends); ``on_report`` as each file finishes, ``on_progress`` as in run_local."""
    try:
        import ray
        from ray.util.queue import Queue as RayQueue
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
    progress = RayQueue(actor_options={"num_cpus": 0})  # takes no CPU from the tasks
    pending = {task.remote(k, src, dst, options, progress): k
               for k, (src, dst) in enumerate(jobs)}
    reports: dict[int, FileReport] = {}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=PROGRESS_SECONDS)
            _drain(progress.get_nowait, on_progress)
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
    finally:
        progress.shutdown()
    return [reports[k] for k in sorted(reports)]

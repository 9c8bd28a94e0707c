"""Several videos at once: lists and globs, local worker processes, a real local Ray
cluster (started and stopped here) with a corrupt clip and a worker killed mid-run."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rtretinex import EnhanceSettings
from rtretinex.samples import write_dark_clip

from .test_cli import ROOT, assert_one_line_error, run
from .test_cli_video import video_info


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """a.mp4 (12 frames), b.mkv (18), c.mp4 (120) and a corrupt d.mp4 in one folder."""
    folder = tmp_path_factory.mktemp("clips")
    write_dark_clip(folder / "a.mp4", frames=12, width=128, height=72)
    write_dark_clip(folder / "b.mkv", frames=18, width=128, height=72, audio=False)
    write_dark_clip(folder / "c.mp4", frames=120, width=320, height=180)
    (folder / "d.mp4").write_text("not a video\n" * 100)
    return folder


FRAMES = {"a.mp4": 12, "b.mkv": 18, "c.mp4": 120}


def check_outputs(out: Path, stats: Path) -> None:
    rows = {Path(r["source"]).name: r for r in json.loads(stats.read_text())}
    assert {n: r["status"] for n, r in rows.items()} == {
        "a.mp4": "done", "b.mkv": "done", "c.mp4": "done", "d.mp4": "failed"}
    for name, frames in FRAMES.items():
        assert len(video_info(out / name)[0]) == frames, name
    assert sorted(p.name for p in out.iterdir()) == sorted(FRAMES)  # no temporary files


def test_a_list_and_a_glob_of_videos(clips, tmp_path):
    out = tmp_path / "out"
    result = run(str(clips / "a.mp4"), str(clips / "*.mkv"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv"]
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(clips / "a.mp4", other / "a.mp4")
    clash = run(str(clips / "a.mp4"), str(other / "a.mp4"), "-o", str(tmp_path / "o2"))
    assert_one_line_error(clash, 2, "would both be written to")
    assert_one_line_error(run(str(clips / "*.webm"), "-o", str(tmp_path / "o3")), 1,
                          "no file matches")


def test_local_workers(clips, tmp_path):
    out, stats = tmp_path / "out", tmp_path / "s.json"
    result = run(str(clips), "-o", str(out), "--jobs", "2", "--stats-json", str(stats))
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: 1 of 4 videos failed")
    check_outputs(out, stats)


def check_progress(messages: list[tuple], reports: list, long_job: int) -> None:
    """Each file announced its frame count when it started, and the long one reported
    frames part way; frames never go back."""
    assert [r.status for r in reports] == ["done", "done"]
    for job, frames in enumerate((120, 12)):
        mine = [m for m in messages if m[0] == job]
        assert mine[0][1:] == (0, frames), mine
        done = [m[1] for m in mine]
        assert done == sorted(done)
    assert any(0 < m[1] < 120 for m in messages if m[0] == long_job), messages


def test_local_workers_report_frames_as_they_go(clips, tmp_path):
    from rtretinex.jobs import BackendChoice
    from rtretinex.workers import run_local

    messages, reported = [], []
    jobs = [(clips / "c.mp4", tmp_path / "c.mp4"), (clips / "a.mp4", tmp_path / "a.mp4")]
    reports = run_local(jobs, 2, reported.append, lambda *m: messages.append(m),
                        backend=BackendChoice(name="torch-cpu"),
                        settings=EnhanceSettings(mode="quality"))
    assert reported and len(reported) == 2
    check_progress(messages, reports, long_job=0)


def test_sigterm_stops_local_workers_and_keeps_finished_files(clips, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), str(clips), "-o",
                             str(out), "--jobs", "2", "--mode", "quality", "--backend",
                             "torch-cpu"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (
            (out / "a.mp4").exists() and any(p.name.startswith(".c.") for p in out.iterdir())):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1].startswith("error: stopped by SIGTERM")
    assert len(video_info(out / "a.mp4")[0]) == 12
    assert not (out / "c.mp4").exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_a_killed_local_worker_fails_its_file_and_a_rerun_redoes_it(clips, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, str(ROOT / "run_stream.py"), str(clips), "-o", str(out),
            "--jobs", "2", "--mode", "quality", "--backend", "torch-cpu"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (
            out.is_dir() and any(p.name.startswith(".c.") for p in out.iterdir())):
        time.sleep(0.2)
    for pid in worker_processes("multiprocessing.spawn"):
        os.kill(pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "a worker process died" in stderr, stderr
    assert "Traceback" not in stderr
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1 and "1 of 4 videos failed (first: d.mp4" in again.stderr
    assert len(video_info(out / "c.mp4")[0]) == 120
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # swept


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A Ray head on 127.0.0.1 with two CPUs, stopped afterwards."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'rtretinex[ray]')")
    ray_cli = str(Path(sys.executable).parent / "ray")
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    started = subprocess.run(
        [ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
         "--temp-dir", str(temp)], capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        pytest.skip(f"cannot start a local Ray cluster: {started.stderr.strip()[-300:]}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)


def worker_processes(marker: str) -> list[int]:
    """PIDs of processes whose command line holds ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_ray_cluster_with_a_corrupt_clip_and_a_killed_worker(clips, ray_cluster, tmp_path):
    out, stats = tmp_path / "out", tmp_path / "s.json"
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), str(clips), "-o",
                             str(out), "--ray", ray_cluster, "--stats-json", str(stats),
                             "--mode", "quality", "--backend", "torch-cpu"],
                            stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.time() + 240
    while killed is None and time.time() < deadline and proc.poll() is None:
        writing = out.is_dir() and any(p.name.startswith(".c.") for p in out.iterdir())
        workers = worker_processes("_ray_transcode")
        if writing and workers:
            killed = max(workers)  # the newest worker: c.mp4's
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    _, stderr = proc.communicate(timeout=600)
    assert killed is not None, "no Ray worker was seen writing c.mp4"
    assert proc.returncode == 1, stderr
    assert "1 of 4 videos failed (first: d.mp4" in stderr
    check_outputs(out, stats)


def test_ray_tasks_report_frames_as_they_go(clips, ray_cluster, tmp_path):
    import ray

    from rtretinex.jobs import BackendChoice
    from rtretinex.workers import run_on_ray

    messages = []
    jobs = [(clips / "c.mp4", tmp_path / "c.mp4"), (clips / "a.mp4", tmp_path / "a.mp4")]
    try:
        reports = run_on_ray(jobs, ray_cluster, lambda r: None, lambda *m: messages.append(m),
                             backend=BackendChoice(name="torch-cpu"),
                             settings=EnhanceSettings(mode="quality"))
    finally:
        ray.shutdown()
    check_progress(messages, reports, long_job=0)


def test_ray_without_a_cluster_is_one_line(clips, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'rtretinex[ray]')")
    result = run(str(clips), "-o", str(tmp_path / "out"), "--ray", f"127.0.0.1:{free_port()}")
    assert result.returncode == 2 and "cannot connect to the Ray cluster" in result.stderr
    assert "Traceback" not in result.stderr

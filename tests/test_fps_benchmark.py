import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fps_benchmark_runs_end_to_end_on_tiny_sizes(tmp_path):
    out, png = tmp_path / "fps.json", tmp_path / "fps.png"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fps.py"), "--sizes", "96x64",
         "--backends", "openvino,torch-cpu,tensorrt", "--runs", "3", "--warmup", "1",
         "--budget", "0.5", "--pipeline-frames", "6", "--json", str(out), "--plot", str(png)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["machine"]["torch"] and report["machine"]["openvino"]
    rows = {(r["backend"], r.get("mode")): r for r in report["rows"]}
    trt = rows[("tensorrt", None)]
    assert "error" in trt  # no TensorRT in CI: a row saying why, not a crash
    for backend in ("openvino", "torch-cpu"):
        for mode in ("quality", "fast"):
            r = rows[(backend, mode)]
            assert r["model"]["ms_median"] > 0 and r["model"]["ms_p95"] >= r["model"]["ms_median"]
            assert r["pipeline_fps"] > 0 and r["passthrough_fps"] > 0
            assert 0 < r["peak_ratio"] and r["gflops"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fps_benchmark_rejects_unknown_backend():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fps.py"), "--backends",
                             "quantum"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: unknown backend")


def test_fps_benchmark_measures_a_users_clips(tmp_path):
    from rtretinex.samples import write_dark_clip

    clip = write_dark_clip(tmp_path / "my clip.mp4", frames=8, width=112, height=80)
    out = tmp_path / "fps.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fps.py"), "--clips", str(clip),
         "--backends", "openvino", "--modes", "fast", "--runs", "3", "--warmup", "1",
         "--budget", "0.5", "--pipeline-frames", "6", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(out.read_text())["rows"]
    assert (row["clip"], row["size"]) == ("my clip.mp4", "112x80")
    assert row["pipeline_fps"] > 0 and row["passthrough_fps"] > 0
    missing = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fps.py"), "--clips", str(tmp_path / "no.mp4"),
         "--backends", "openvino"], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and missing.stderr.startswith("error: cannot open video")
    assert "Traceback" not in missing.stderr


def test_fps_benchmark_caps_the_cpu_tier_and_says_so(tmp_path):
    """``--isa avx2`` re-runs with OpenVINO and numba capped, the tier in the JSON (and
    the clip generated as a camera writes it, which the JSON says too)."""
    out = tmp_path / "fps.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fps.py"), "--sizes", "96x64", "--isa",
         "avx2", "--source", "camera", "--backends", "openvino", "--modes", "fast", "--runs",
         "3", "--warmup", "1",
         "--budget", "0.5", "--pipeline-frames", "6", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    isa = report["machine"]["isa"]
    assert isa["tier"] == "avx2" and isa["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert isa["NUMBA_CPU_NAME"] == "haswell" and report["machine"]["source"] == "camera"
    (row,) = report["rows"]
    assert row["precision"] == "fp32" or "BF16" in isa["openvino_capabilities"]
    assert row["pipeline_fps"] > 0


def test_fast_path_cpu_counts_the_nets_apart_on_fixed_frames(tmp_path):
    """``fast_path_cpu.py``: the nets on every ``--nets-every``-th frame whatever the
    machine's speed (so two versions run them on the same frames), their CPU time taken off
    the whole."""
    from rtretinex.samples import write_dark_clip

    clip = write_dark_clip(tmp_path / "clip.mp4", frames=24, width=160, height=96, audio=False)
    out = tmp_path / "cpu.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fast_path_cpu.py"), "--clip", str(clip),
         "--nets-every", "4", "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["frames"] == 24 and report["nets_runs"] == 6
    assert report["opencv_threads"] == 1  # as the pipeline runs it
    assert 0 < report["nets_cpu_ms"] < report["cpu_ms"]
    assert report["without_nets_cpu_ms"] == report["cpu_ms"] - report["nets_cpu_ms"]

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_quality(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "quality.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_quality_benchmark_writes_scores(lol_folder, tmp_path):
    out = tmp_path / "q.json"
    result = run_quality("--data", str(lol_folder), "--json", str(out))
    assert result.returncode == 0, result.stderr
    scores = json.loads(out.read_text())
    assert scores["n"] == 4 and len(scores["per_image"]) == 4
    assert 5 < scores["psnr"] < 60 and 0 < scores["ssim"] <= 1
    mean = sum(r["psnr"] for r in scores["per_image"]) / 4
    assert abs(mean - scores["psnr"]) < 1e-9
    assert "mean of 4" in result.stdout


def test_quality_benchmark_fast_mode(lol_folder, tmp_path):
    out = tmp_path / "q.json"
    result = run_quality("--data", str(lol_folder), "--json", str(out), "--mode", "fast",
                         "--scale", "2", "--backend", "openvino")
    assert result.returncode == 0, result.stderr
    scores = json.loads(out.read_text())
    assert scores["mode"] == "fast" and scores["scale"] == 2 and scores["backend"] == "openvino"


def test_mismatched_names_fail_cleanly(lol_folder):
    (lol_folder / "high" / "1.png").unlink()
    result = run_quality("--data", str(lol_folder))
    assert result.returncode == 1
    assert result.stderr.startswith("error: low/ and high/ names differ")
    assert "Traceback" not in result.stderr


def test_held_out_uses_only_the_pairs_the_weights_never_saw(lol_folder, tmp_path):
    from rtretinex.nets.models import (
        DEFAULT_WEIGHTS,
        RetinexNet,
        WeightsMeta,
        load_weights,
        save_weights,
    )

    net = RetinexNet()
    load_weights(net, DEFAULT_WEIGHTS)
    weights = tmp_path / "w.pt"
    save_weights(net, weights, WeightsMeta(held_out=["2", "4", "99"]))
    out = tmp_path / "q.json"
    result = run_quality("--data", str(lol_folder), "--held-out", "--weights", str(weights),
                         "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert [r["name"] for r in json.loads(out.read_text())["per_image"]] == ["2", "4"]

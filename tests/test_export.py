import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rtretinex.export import check_images
from rtretinex.nets import models, onnx_export


def export(*args):
    return subprocess.run([sys.executable, "-m", "rtretinex.export", *args],
                          capture_output=True, text=True, timeout=300)


def test_openvino_export_builds_into_engines():
    result = export("--backend", "openvino", "--precision", "fp32")
    assert result.returncode == 0, result.stderr
    assert "engines/openvino-" in result.stdout and "engine ready" in result.stdout


def test_tensorrt_export_says_what_is_missing():
    if torch.cuda.is_available():
        import pytest

        pytest.skip("a GPU is present; this checks the message on CPU-only machines")
    result = export("--backend", "tensorrt")
    assert result.returncode == 1
    assert result.stderr.startswith("error: backend 'tensorrt' is unavailable")
    assert "Traceback" not in result.stderr


def test_bad_size_is_a_usage_error():
    result = export("--backend", "tensorrt", "--max-size", "big")
    assert result.returncode == 2 and "WIDTHxHEIGHT" in result.stderr


onnx_packages = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("onnx", "onnxscript")),
    reason="ONNX export needs pip install 'rtretinex[onnx]' (make test installs it)")


@onnx_packages
@pytest.mark.slow
def test_onnx_export_matches_the_eager_nets_at_three_sizes(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rtretinex.cli", "export", "--format", "onnx",
                             "-o", str(tmp_path / "rn.onnx")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and "R ∘ Î" in lines[0]
    for line in lines:
        error = float(line.split("eager ")[1].split()[0])
        assert error <= 1e-3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rn.onnx", "rn_decom.onnx", "rn_enhance.onnx"]
    again = subprocess.run([sys.executable, "-m", "rtretinex.cli", "export", "--format", "onnx",
                            "-o", str(tmp_path / "rn.onnx")],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "pass -y" in again.stderr


@onnx_packages
@pytest.mark.slow
def test_a_graph_frozen_to_its_traced_size_is_caught_and_not_kept(tmp_path):
    # adaptive_avg_pool2d as the exporter sees it: its kernel fixed to the example's size
    with pytest.raises(onnx_export.ExportMismatch):
        onnx_export.export_onnx(tmp_path / "rn.onnx", check_images(),
                                pool=F.adaptive_avg_pool2d)
    assert list(tmp_path.iterdir()) == []


@onnx_packages
def test_the_check_runs_on_openvino_without_onnxruntime(tmp_path, monkeypatch):
    import onnx

    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, "h", "w"])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, "h", "w"])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Sigmoid", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "g.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)]),
              path)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    runtime, run = onnx_export._runner(path)
    assert runtime.startswith("openvino")
    data = np.linspace(-3, 3, 3 * 5 * 7, dtype=np.float32).reshape(1, 3, 5, 7)
    np.testing.assert_allclose(run({"x": data})[0], 1 / (1 + np.exp(-data)), atol=1e-6)


def test_grid_average_is_adaptive_average_pooling():
    x = torch.rand(2, 3, 37, 131)
    for grid in (1, 5, 32):
        torch.testing.assert_close(models.grid_average(x, grid), F.adaptive_avg_pool2d(x, grid))


def test_onnx_export_without_its_packages_says_what_to_install(tmp_path, monkeypatch, capsys):
    from rtretinex.export import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real(name, *a))
    assert main(["--format", "onnx", "-o", str(tmp_path / "rn.onnx")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: ONNX export needs onnxscript: pip install 'rtretinex[onnx]'"]
    assert list(tmp_path.iterdir()) == []

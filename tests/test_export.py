import subprocess
import sys

import torch


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

"""Every backend available here against the torch fp32 reference; the backend table; caches."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rtretinex.errors import UsageError
from rtretinex.nets.backends import (
    BACKENDS,
    BackendUnavailable,
    create_backend,
    get_spec,
    nvidia_driver_loaded,
    resolve_auto,
)
from rtretinex.nets.backends.cache import engine_key
from rtretinex.nets.backends.openvino_backend import OpenVINOBackend, import_openvino
from rtretinex.nets.backends.tensorrt_backend import ShapeProfile, library_versions
from rtretinex.nets.models import (
    DEFAULT_WEIGHTS,
    RetinexHeads,
    RetinexNet,
    WeightsMeta,
    create_retinexnet,
    save_weights,
)
from rtretinex.training.data import simulate_low_light

from .conftest import small_photo

# Largest |difference| from torch fp32 allowed in R, I and Î, per precision.
TOLERANCE = {"fp32": 1e-4, "bf16": 5e-2}


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return simulate_low_light(small_photo(height=90, width=122))


@pytest.fixture(scope="module")
def reference(frame):
    """R, I, Î straight from the torch model with its own HWC <-> NCHW conversion, so a
    bug in the backends' shared conversion (a channel swap, a wrong scale) cannot cancel."""
    heads = RetinexHeads(create_retinexnet(DEFAULT_WEIGHTS))
    x = torch.tensor(frame, dtype=torch.float32).div(255.0).permute(2, 0, 1).unsqueeze(0)
    with torch.inference_mode():
        r, i, i_hat = heads(x)
    return r[0].permute(1, 2, 0).numpy(), i[0, 0].numpy(), i_hat[0, 0].numpy()


def _available(name: str) -> bool:
    return get_spec(name).unavailable_reason() is None


CASES = [(spec.name, p) for spec in BACKENDS for p in spec.precisions]


@pytest.mark.parametrize("name,precision", CASES)
def test_backend_matches_torch_fp32_reference(name, precision, frame, reference, tmp_path):
    if not _available(name):
        pytest.skip(f"{name}: {get_spec(name).unavailable_reason()}")
    options = {"cache_dir": tmp_path} if name in ("openvino", "tensorrt") else {}
    backend = create_backend(name, precision, **options)
    result = backend(frame)
    tol = TOLERANCE.get(precision, 2e-2)
    for got, ref in zip(result, reference):
        assert got.shape == ref.shape and got.dtype == np.float32
        assert float(np.abs(got - ref).max()) <= tol
    # fast mode's YUV path hands the nets float32 on the 0-255 scale: same result, and the
    # caller's array is left as it was
    as_float = frame.astype(np.float32)
    for got, ref in zip(backend(as_float), result):
        assert float(np.abs(got - ref).max()) <= tol
    assert np.array_equal(as_float, frame)


def test_table_lists_every_backend_once_with_what_it_needs():
    names = [s.name for s in BACKENDS]
    assert names == ["tensorrt", "cuda", "openvino", "torch-cpu"]
    assert all(s.needs and s.precisions for s in BACKENDS)


def test_auto_prefers_the_fastest_available():
    expected = next(s.name for s in BACKENDS if s.unavailable_reason() is None)
    assert resolve_auto().name == expected
    if not torch.cuda.is_available():
        assert expected == "openvino"


def test_unknown_backend_and_precision_are_usage_errors():
    with pytest.raises(UsageError, match="choose one of: auto, tensorrt"):
        create_backend("metal")
    with pytest.raises(UsageError, match="does not support precision 'fp8'"):
        create_backend("torch-cpu", "fp8")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without GPU")
def test_gpu_backends_say_what_is_missing():
    for name in ("cuda", "tensorrt"):
        with pytest.raises(BackendUnavailable, match=f"backend '{name}' is unavailable: "):
            create_backend(name)


def test_engine_key_changes_when_any_part_changes(tmp_path):
    weights = tmp_path / "w.pt"
    save_weights(RetinexNet(), weights, WeightsMeta())
    base = dict(profile=ShapeProfile(), precision="fp16", gpu="H100", **library_versions())
    key = engine_key(weights, **base)
    assert key == engine_key(weights, **base)
    changes = [("profile", ShapeProfile(max_hw=(1080, 1920))), ("precision", "fp32"),
               ("gpu", "H200"), ("torch", "9.9"), ("tensorrt", "11.2"), ("torch-tensorrt", "3")]
    for part, value in changes:
        assert engine_key(weights, **{**base, part: value}) != key, part
    torch.manual_seed(1)
    save_weights(RetinexNet(), weights, WeightsMeta())
    assert engine_key(weights, **base) != key


def test_shape_profile_widens_to_cover_a_frame():
    profile = ShapeProfile(min_hw=(64, 64), max_hw=(1080, 1920))
    assert profile.fits(720, 1280) and not profile.fits(2160, 3840) and not profile.fits(32, 640)
    wider = profile.covering(2160, 3840).covering(32, 640)
    assert wider.fits(2160, 3840) and wider.fits(32, 640) and wider.opt_hw == profile.opt_hw


def test_openvino_caches_its_model_and_rebuilds_a_corrupt_one(tmp_path, frame, caplog):
    first = OpenVINOBackend(DEFAULT_WEIGHTS, "fp32", cache_dir=tmp_path)
    ir = first.ir_path
    assert ir.is_file() and ir.with_suffix(".bin").is_file() and ir.parent == tmp_path
    stamp = ir.stat().st_mtime_ns
    OpenVINOBackend(DEFAULT_WEIGHTS, "fp32", cache_dir=tmp_path)
    assert ir.stat().st_mtime_ns == stamp  # loaded, not rebuilt

    ir.write_text("<garbage")
    again = OpenVINOBackend(DEFAULT_WEIGHTS, "fp32", cache_dir=tmp_path)
    assert "rebuilding" in caplog.text
    assert ir.read_text().startswith("<?xml")
    np.testing.assert_allclose(again(frame)[2], first(frame)[2], atol=1e-5)


def test_openvino_sends_no_telemetry(tmp_path):
    """Outside CI, importing OpenVINO and converting a model with it report to Google
    Analytics (a client ID written under ~/intel, each event from a forked process): a
    fresh process builds and runs the engine without either, and keeps its environment."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    done = subprocess.run(
        [sys.executable, "-c",
         "import os; from pathlib import Path; import numpy as np; "
         "from rtretinex.nets.backends import create_backend; "
         f"b = create_backend('openvino', cache_dir=Path({str(tmp_path / 'engines')!r})); "
         "b(np.zeros((32, 48, 3), np.uint8)); print('CI' in os.environ)"],
        capture_output=True, text=True, timeout=300, env={**env, "HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]
    assert not (home / "intel").exists()


@pytest.mark.parametrize("precision,ov_type", [("fp32", "f32"), ("bf16", "bf16")])
def test_openvino_compiles_in_the_requested_precision(tmp_path, precision, ov_type):
    ov = import_openvino()
    backend = OpenVINOBackend(DEFAULT_WEIGHTS, precision, cache_dir=tmp_path)
    if backend.precision != precision:
        pytest.skip("this CPU has no bf16; openvino fell back to fp32")
    backend(np.zeros((60, 106, 3), np.uint8))  # fast mode's size: the one-thread model
    for request, threads in ((backend.request, None), (backend.small_request, 1)):
        compiled = request.get_compiled_model()
        assert compiled.get_property("INFERENCE_PRECISION_HINT") == getattr(ov.Type, ov_type)
        if threads:
            assert compiled.get_property("INFERENCE_NUM_THREADS") == threads


def test_engine_cache_location(monkeypatch, tmp_path):
    from rtretinex.nets.backends import cache

    monkeypatch.delenv("RTRETINEX_ENGINES", raising=False)
    assert cache.engines_dir() == Path(__file__).resolve().parents[1] / "engines"
    monkeypatch.setenv("RTRETINEX_ENGINES", str(tmp_path))
    assert cache.engines_dir() == tmp_path
    # an installed package (no pyproject.toml beside it) uses the user cache
    monkeypatch.delenv("RTRETINEX_ENGINES")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    installed = tmp_path / "site" / "rtretinex" / "backends" / "cache.py"
    monkeypatch.setattr(cache, "__file__", str(installed))
    assert cache.engines_dir() == tmp_path / "rtretinex" / "engines"


def test_openvino_under_an_avx2_cap_falls_back_to_fp32_and_runs(tmp_path):
    """Capped to AVX2, OpenVINO may still list BF16 yet fail to compile in it: the
    backend must fall back to fp32 with a warning, not end the run."""
    code = ("import numpy as np; from pathlib import Path; "
            "from rtretinex.nets.backends import create_backend; "
            f"b = create_backend('openvino', cache_dir=Path({str(tmp_path)!r})); "
            "b(np.zeros((60, 106, 3), np.uint8)); print(b.precision)")
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "fp32"


@pytest.mark.skipif(nvidia_driver_loaded(), reason="with an NVIDIA driver, 'auto' asks torch")
def test_the_openvino_path_runs_a_cached_engine_without_importing_torch(tmp_path):
    """Importing torch is about a second of a three-second start: a video enhanced with a
    cached OpenVINO engine (the CPU default) must not need it."""
    create_backend("openvino", cache_dir=tmp_path)  # builds the engine (that needs torch)
    code = ("import sys; import numpy as np; "
            "from rtretinex import Enhancer, EnhanceSettings; "
            "from rtretinex.video.frames import VideoFrame; "
            "from rtretinex.pixelops.formats import from_rgb; "
            "from rtretinex.nets.backends import create_backend, resolve_auto; "
            "e = Enhancer(create_backend(resolve_auto().name), EnhanceSettings(mode='fast')); "
            "frame = from_rgb(np.full((120, 212, 3), 20, np.uint8)); "
            "[e.enhance(VideoFrame(frame, i, pixel_format='yuv420p')) for i in range(3)]; "
            "print(resolve_auto().name, 'torch' in sys.modules)")
    env = {**os.environ, "RTRETINEX_ENGINES": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["openvino", "False"]


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="reads Linux's /proc")
def test_gpu_backends_are_ruled_out_only_without_any_trace_of_an_nvidia_gpu(tmp_path, monkeypatch):
    from rtretinex.nets import backends

    trace = tmp_path / "dxg"
    monkeypatch.setattr(backends, "_NVIDIA_TRACES", (str(trace),))
    assert not backends.nvidia_driver_loaded()
    assert "no NVIDIA driver" in get_spec("cuda").unavailable_reason()
    trace.touch()  # e.g. WSL 2's GPU device: torch decides
    assert backends.nvidia_driver_loaded()

"""Inference backends behind one small interface, and the one table that lists them.

A backend runs RetinexNet on one uint8 RGB frame and returns the decomposition the
enhancer composes: reflectance R (H, W, 3), illumination I (H, W) and enhanced
illumination Î (H, W), all float32 numpy arrays. The table drives ``--backend`` in the
CLI, ``python -m rtretinex.export`` and ``benchmarks/fps.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from ...errors import UsageError
from ..weightfile import DEFAULT_WEIGHTS

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendSpec",
    "BackendUnavailable",
    "Decomposition",
    "create_backend",
    "get_spec",
    "nvidia_driver_loaded",
    "resolve_auto",
]



class BackendUnavailable(RuntimeError):
    """A backend's package or device is missing on this machine."""


class Decomposition(NamedTuple):
    """R (H, W, 3), I (H, W) and Î (H, W) as float32 arrays."""

    reflectance: np.ndarray
    illumination: np.ndarray
    enhanced_illumination: np.ndarray


class Backend(Protocol):
    """What every backend offers."""

    name: str
    precision: str
    device_name: str
    weights: Path  # the weights file it runs

    def __call__(self, frame: np.ndarray) -> Decomposition:
        """Run both nets on one RGB frame (H, W, 3), uint8 or float32 0-255."""
        ...


@dataclass(frozen=True)
class BackendSpec:
    """One row of the backend table."""

    name: str
    device: str
    precisions: tuple[str, ...]
    needs: str
    module: str
    factory: str

    @property
    def default_precision(self) -> str:
        return self.precisions[0]

    def unavailable_reason(self) -> str | None:
        """None when this backend can run here, else what is missing and how to get it."""
        if self.device == "cuda" and not nvidia_driver_loaded():
            return "no NVIDIA driver loaded on this machine (needs an NVIDIA GPU)"
        return getattr(self._load(), self.factory).unavailable_reason()

    def create(self, weights: Path, precision: str | None, **options) -> Backend:
        precision = precision or self.default_precision
        if precision not in self.precisions:
            raise UsageError(
                f"backend {self.name!r} does not support precision {precision!r}; "
                f"choose one of {', '.join(self.precisions)}"
            )
        reason = self.unavailable_reason()
        if reason:
            raise BackendUnavailable(f"backend {self.name!r} is unavailable: {reason}")
        return getattr(self._load(), self.factory)(weights, precision, **options)

    def _load(self):
        return importlib.import_module(f"{__name__}.{self.module}")


# What Linux shows of an NVIDIA GPU: its driver, its control device, or WSL 2's GPU device.
_NVIDIA_TRACES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/dxg")


def nvidia_driver_loaded() -> bool:
    """False only where Linux shows no trace of an NVIDIA GPU (_NVIDIA_TRACES): the GPU
    backends are then out without importing torch (a second of start-up); elsewhere True,
    and torch decides."""
    if not Path("/proc/version").exists():
        return True
    return any(Path(trace).exists() for trace in _NVIDIA_TRACES)


BACKENDS: tuple[BackendSpec, ...] = (
    BackendSpec("tensorrt", "cuda", ("fp16", "fp32"),
                "an NVIDIA GPU and `pip install rtretinex[tensorrt]`",
                "tensorrt_backend", "TensorRTBackend"),
    BackendSpec("cuda", "cuda", ("fp16", "fp32"), "an NVIDIA GPU and a CUDA build of torch",
                "torch_backend", "CudaBackend"),
    BackendSpec("openvino", "cpu", ("bf16", "fp32"), "`pip install openvino`",
                "openvino_backend", "OpenVINOBackend"),
    BackendSpec("torch-cpu", "cpu", ("fp32", "bf16"), "torch (always installed)",
                "torch_backend", "TorchCPUBackend"),
)
AUTO_ORDER = ("tensorrt", "cuda", "openvino", "torch-cpu")


def get_spec(name: str) -> BackendSpec:
    """Look a backend up by name; UsageError listing the valid names otherwise."""
    for spec in BACKENDS:
        if spec.name == name:
            return spec
    valid = ", ".join(["auto", *(s.name for s in BACKENDS)])
    raise UsageError(f"unknown backend {name!r}; choose one of: {valid}")


def resolve_auto() -> BackendSpec:
    """The fastest backend available here: tensorrt > cuda > openvino > torch-cpu."""
    for name in AUTO_ORDER:
        spec = get_spec(name)
        if spec.unavailable_reason() is None:
            return spec
    return get_spec("torch-cpu")


def create_backend(name: str = "auto", precision: str | None = None,
                   weights: Path = DEFAULT_WEIGHTS, **options) -> Backend:
    """Build the named backend (``auto`` picks the fastest available)."""
    spec = resolve_auto() if name == "auto" else get_spec(name)
    return spec.create(Path(weights), precision, **options)


def check_frame(frame: np.ndarray) -> None:
    """A backend's input is uint8 RGB (H, W, 3), or float32 on the same 0-255 scale (a
    temporally denoised frame); ValueError otherwise."""
    if frame.dtype not in (np.uint8, np.float32) or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB frame (H, W, 3) of uint8 or float32 0-255, "
                         f"got {frame.dtype}{frame.shape}")


def nchw_input(frame: np.ndarray) -> np.ndarray:
    """A checked frame (``check_frame``) → float32 (1, 3, H, W) in [0, 1]."""
    check_frame(frame)
    return np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def to_decomposition(r: np.ndarray, i: np.ndarray, i_hat: np.ndarray) -> Decomposition:
    """NCHW outputs of a backend → a Decomposition of HWC / HW float32 arrays."""
    return Decomposition(
        np.ascontiguousarray(r[0].transpose(1, 2, 0), dtype=np.float32),
        np.array(i[0, 0], dtype=np.float32),
        np.array(i_hat[0, 0], dtype=np.float32),
    )


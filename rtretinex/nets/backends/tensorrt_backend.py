"""TensorRT through torch-tensorrt's dynamo path: FP16, dynamic H×W, engines cached in engines/.

An engine is compiled for a (min, opt, max) shape profile and saved as an exported program
under a key of (weights hash, profile, precision, GPU name, torch / torch-tensorrt /
TensorRT versions). The next start loads it instead of rebuilding. A frame outside the
profile triggers a rebuild with a profile that covers it (said out loud). An engine is only
loaded from outside ``engines/`` when the user names the file.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch

from ...atomic import atomic_write
from ..models import RetinexHeads, create_retinexnet
from .cache import ENGINES_DIR, engine_key, engine_path, log
from .torch_backend import _DTYPES, TorchBackend

__all__ = ["ShapeProfile", "TensorRTBackend"]

# Largest difference from the eager model (same precision) a fresh engine may show.
BUILD_TOLERANCE = {"fp16": 2e-2, "fp32": 1e-3}


@dataclass(frozen=True)
class ShapeProfile:
    """Height/width range an engine accepts, and the size it is tuned for."""

    min_hw: tuple[int, int] = (64, 64)
    opt_hw: tuple[int, int] = (720, 1280)
    max_hw: tuple[int, int] = (2160, 3840)

    def fits(self, height: int, width: int) -> bool:
        return (self.min_hw[0] <= height <= self.max_hw[0]
                and self.min_hw[1] <= width <= self.max_hw[1])

    def covering(self, height: int, width: int) -> ShapeProfile:
        """The smallest widening of this profile that accepts height × width."""
        return ShapeProfile(
            (min(self.min_hw[0], height), min(self.min_hw[1], width)),
            self.opt_hw,
            (max(self.max_hw[0], height), max(self.max_hw[1], width)),
        )


def library_versions() -> dict[str, str]:
    """torch, torch-tensorrt and TensorRT versions (part of every engine key)."""
    versions = {"torch": torch.__version__}
    for dist in ("torch-tensorrt", "tensorrt"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "missing"
    return versions


class TensorRTBackend(TorchBackend):
    """RetinexNet as a TensorRT engine (through torch-tensorrt) on an NVIDIA GPU."""

    name = "tensorrt"

    def __init__(self, weights: Path, precision: str = "fp16",
                 profile: ShapeProfile | None = None, engine: Path | None = None,
                 cache_dir: Path = ENGINES_DIR) -> None:
        self.precision = precision
        self.device = torch.device("cuda")
        self.dtype = _DTYPES[precision]
        self.weights = Path(weights)
        self.cache_dir = Path(cache_dir)
        self.profile = profile or ShapeProfile()
        if engine is not None:
            self.model = self._load(Path(engine))
        else:
            self.model = self._load_or_build()

    @staticmethod
    def unavailable_reason() -> str | None:
        if importlib.util.find_spec("torch_tensorrt") is None:
            return "torch-tensorrt is not installed (pip install 'rtretinex[tensorrt]')"
        if not torch.cuda.is_available():
            return "no CUDA GPU visible to torch (TensorRT needs an NVIDIA GPU)"
        return None

    @property
    def engine_file(self) -> Path:
        key = engine_key(
            self.weights, profile=self.profile, precision=self.precision,
            gpu=torch.cuda.get_device_name(self.device), **library_versions(),
        )
        return engine_path("tensorrt", key, ".ep", self.cache_dir)

    def _load(self, path: Path) -> torch.nn.Module:
        import torch_tensorrt

        return torch_tensorrt.load(str(path)).module()

    def _load_or_build(self) -> torch.nn.Module:
        path = self.engine_file
        if path.is_file():
            try:
                return self._load(path)
            except Exception as exc:  # any unreadable engine is rebuilt
                log.warning("cached TensorRT engine %s is unusable (%s); rebuilding",
                            path.name, type(exc).__name__)
        return self.build()

    def build(self) -> torch.nn.Module:
        """Compile, save to the cache, reload and prove the reload matches eager."""
        import torch_tensorrt

        eager = RetinexHeads(create_retinexnet(self.weights)).to(self.device, self.dtype)
        p = self.profile
        spec = torch_tensorrt.Input(
            min_shape=(1, 3, *p.min_hw), opt_shape=(1, 3, *p.opt_hw),
            max_shape=(1, 3, *p.max_hw), dtype=self.dtype, name="image",
        )
        log.warning("building a TensorRT %s engine for %s..%s (takes a few minutes, once)",
                    self.precision, p.min_hw, p.max_hw)
        compiled = torch_tensorrt.compile(
            eager, ir="dynamo", inputs=[spec], enabled_precisions={self.dtype},
        )
        path = self.engine_file
        path.parent.mkdir(parents=True, exist_ok=True)
        # Input specs (not tensors) keep H and W dynamic in the saved program.
        with atomic_write(path) as handle:
            torch_tensorrt.save(compiled, str(handle.tmp), output_format="exported_program",
                                arg_inputs=[spec], retrace=True)
        reloaded = self._load(path)
        err = 0.0
        for hw in (p.opt_hw, p.min_hw):  # two sizes: proves the reload is still dynamic
            example = torch.rand(1, 3, *hw, device=self.device, dtype=self.dtype)
            with torch.inference_mode():
                err = max(err, *(float((a.float() - b.float()).abs().max())
                                 for a, b in zip(reloaded(example), eager(example))))
        if err > BUILD_TOLERANCE[self.precision]:
            path.unlink(missing_ok=True)
            raise RuntimeError(f"TensorRT engine differs from eager by {err:.2e}; not cached")
        return reloaded

    def infer_tensor(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        height, width = batch.shape[-2:]
        if not self.profile.fits(height, width):
            log.warning("frame %dx%d is outside the engine profile %s..%s; rebuilding",
                        width, height, self.profile.min_hw, self.profile.max_hw)
            self.profile = self.profile.covering(height, width)
            self.model = self._load_or_build()
        return super().infer_tensor(batch)

"""OpenVINO on the CPU: the model converted from torch, dynamic H×W, bf16 where supported.

The converted IR is cached in ``engines/`` (keyed by weights, precision and versions) and
OpenVINO's compiled-model cache lives beside it, so a second start skips both steps.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np

from ...atomic import atomic_write
from . import Decomposition, nchw_input, to_decomposition
from .cache import ENGINES_DIR, engine_key, engine_path, log

__all__ = ["OpenVINOBackend", "import_openvino"]

_HINTS = {"bf16": "bf16", "fp32": "f32"}
# Largest difference from the torch fp32 reference that a fresh IR may show (f32 inference).
BUILD_TOLERANCE = 1e-4
# Inputs up to this many pixels (fast mode's ~107×60) run on one thread. Two threads save
# wall time on a call but spend more CPU, which a video pipeline's decoder and encoder need:
# 0.6 ms more of a 2.4 ms call with AMX; without AMX (2-core AMD EPYC, AVX-512 bf16) a call
# took 14.2 ms of CPU on one thread, and 7.9-8.6 ms of wall time but 16.3-17.6 ms of CPU on
# two (each call followed by 60 ms of other work, the process's CPU time). The nets run on
# every N-th video frame only (``reuse``), and on a live source in the background, so their
# CPU matters more than their wall time.
ONE_THREAD_PIXELS = 20_000


def import_openvino() -> ModuleType:
    """The ``openvino`` module, imported without its telemetry (``_without_telemetry``):
    importing it reports to Google Analytics too."""
    with _without_telemetry():
        import openvino
    return openvino


@contextmanager
def _without_telemetry() -> Iterator[None]:
    """OpenVINO's model converter, imported with ``openvino``, reports the import and each
    conversion to Google Analytics unless it runs in CI (its own check: the CI environment
    variable): a client ID written under ~/intel, each event sent from a forked copy of the
    process, which can deadlock in a multithreaded one and then hold up its exit (a test
    run waited 20 minutes on one). The tool makes no network calls a user did not ask for:
    both run as in CI."""
    before = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ["CI"]
        else:
            os.environ["CI"] = before


def _reference_outputs(heads, x: np.ndarray) -> list[np.ndarray]:
    import torch

    with torch.inference_mode():
        return [t.numpy() for t in heads(torch.from_numpy(x))]


class OpenVINOBackend:
    """RetinexNet compiled by OpenVINO for the CPU."""

    name = "openvino"

    def __init__(self, weights: Path, precision: str = "bf16", cache_dir: Path = ENGINES_DIR,
                 threads: int | None = None) -> None:
        ov = import_openvino()

        self.core = ov.Core()
        self.weights = Path(weights)
        if precision == "bf16" and "BF16" not in self._capabilities():
            log.warning("this CPU has no bf16 support; openvino runs in fp32")
            precision = "fp32"
        self.precision = precision
        self.device_name = self.core.get_property("CPU", "FULL_DEVICE_NAME")
        self.cache_dir = Path(cache_dir)
        self.ir_path = engine_path(
            "openvino", engine_key(weights, openvino=ov.get_version(),
                                   torch=importlib.metadata.version("torch")),
            ".xml", self.cache_dir,
        )
        self.model = self._load_or_build(weights)
        self.config = {
            "INFERENCE_PRECISION_HINT": _HINTS[precision],
            "PERFORMANCE_HINT": "LATENCY",
            "CACHE_DIR": str(self.cache_dir / "openvino-compiled"),
        }
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        # the small frames' request first: a bf16 compile that fails falls back here, and a
        # video in fast mode never compiles the other (less memory)
        self.small_request = self._request({**self.config, "INFERENCE_NUM_THREADS": threads or 1})
        self._request_all = self.small_request if threads else None

    @property
    def request(self):
        """The infer request for frames above ONE_THREAD_PIXELS (all threads, unless
        ``threads`` was given), compiled when first needed."""
        if self._request_all is None:
            self._request_all = self._request(self.config)
        return self._request_all

    def _request(self, config: dict):
        """An infer request compiled with ``config``. Where bf16 is listed but its compile
        fails (seen under ``ONEDNN_MAX_CPU_ISA=AVX2``: "object is not initialized"), the
        backend falls back to fp32 with a warning instead of failing."""
        try:
            return self.core.compile_model(self.model, "CPU", config).create_infer_request()
        except RuntimeError as exc:
            if self.precision != "bf16":
                raise
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            log.warning("openvino could not compile in bf16 on this CPU (%s); running in fp32",
                        reason)
            self.precision = "fp32"
            self.config["INFERENCE_PRECISION_HINT"] = _HINTS["fp32"]
            return self._request({**config, "INFERENCE_PRECISION_HINT": _HINTS["fp32"]})

    @staticmethod
    def unavailable_reason() -> str | None:
        if importlib.util.find_spec("openvino") is None:
            return "the openvino package is not installed (pip install openvino)"
        return None

    def _capabilities(self) -> list[str]:
        return list(self.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))

    def _load_or_build(self, weights: Path):
        if self.ir_path.is_file():
            try:
                return self.core.read_model(self.ir_path)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning("cached OpenVINO model %s is unreadable (%s); rebuilding",
                            self.ir_path.name, first)
        return self.build(weights)

    def build(self, weights: Path):
        """Convert from torch, save the IR, reload it and prove it matches torch fp32."""
        ov = import_openvino()
        import torch  # only to build: a cached IR runs without it

        from ..models import RetinexHeads, create_retinexnet

        heads = RetinexHeads(create_retinexnet(weights))
        example = torch.rand(1, 3, 64, 96)
        with warnings.catch_warnings(), _without_telemetry():
            warnings.simplefilter("ignore", DeprecationWarning)  # it traces with torch.jit
            model = ov.convert_model(heads, example_input=example,
                                     input=[ov.PartialShape([1, 3, -1, -1])])
        for output, name in zip(model.outputs, ("reflectance", "illumination", "enhanced")):
            output.get_tensor().set_names({name})
        self.ir_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.ir_path, self.ir_path.with_suffix(".bin")) as handle:
            ov.save_model(model, handle.tmp, compress_to_fp16=False)  # writes the .bin beside
        reloaded = self.core.read_model(self.ir_path)
        check = self.core.compile_model(reloaded, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        x = np.random.default_rng(0).random((1, 3, 37, 53), dtype=np.float32)
        got = check(x)
        for i, ref in enumerate(_reference_outputs(heads, x)):
            err = float(np.abs(got[i] - ref).max())
            if err > BUILD_TOLERANCE:
                self.ir_path.unlink(missing_ok=True)
                raise RuntimeError(f"OpenVINO build differs from torch by {err:.2e}; not cached")
        return reloaded

    def __call__(self, frame: np.ndarray) -> Decomposition:
        small = frame.shape[0] * frame.shape[1] <= ONE_THREAD_PIXELS
        request = self.small_request if small else self.request
        request.infer([nchw_input(frame)])
        return to_decomposition(*(request.get_output_tensor(i).data for i in range(3)))

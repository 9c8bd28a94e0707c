"""ONNX export of RetinexNet with dynamic height and width, proved by running it.

Three graphs: the Decom-Net (image → R, I), the Enhance-Net as the pipeline runs it
(R, I → Î, on the ``enhance_grid`` view of the frame) and the whole RetinexNet (image → R,
I, Î, R ∘ Î). The grid view is averaged by ``models.grid_average``: ONNX has no adaptive
pooling, and exporting ``adaptive_avg_pool2d`` freezes it to the traced size. Each graph
is then run (onnxruntime where installed, else OpenVINO, which reads ONNX too) on the
caller's frames (``rtretinex export``: real photos, darkened, at three sizes) and compared
with the eager nets; a graph that differs by more than ``TOLERANCE`` is not kept.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..atomic import atomic_write
from .models import (
    DEFAULT_WEIGHTS,
    RetinexNet,
    RetinexOutput,
    create_retinexnet,
    grid_average,
)

__all__ = ["TOLERANCE", "ExportMismatch", "GraphCheck", "OnnxUnavailable", "export_onnx",
           "graph_paths"]

# fp32 graphs match the eager nets to ~1e-6; more than this is a wrong graph, not rounding.
TOLERANCE = 1e-3
OPSET = 18
Pool = Callable[[torch.Tensor, int], torch.Tensor]


class OnnxUnavailable(RuntimeError):
    """The packages the exporter needs are not installed."""


class ExportMismatch(RuntimeError):
    """An exported graph does not reproduce the eager nets."""


class _Decom(nn.Module):
    def __init__(self, net: RetinexNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.decom(image)


class _Enhance(nn.Module):
    def __init__(self, net: RetinexNet, pool: Pool) -> None:
        super().__init__()
        self.net, self.pool = net, pool

    def forward(self, reflectance: torch.Tensor, illumination: torch.Tensor) -> torch.Tensor:
        return self.net.relight(reflectance, illumination, self.pool)


class _Whole(nn.Module):
    def __init__(self, net: RetinexNet, pool: Pool) -> None:
        super().__init__()
        self.net, self.pool = net, pool

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.net(image, self.pool))


@dataclass
class GraphCheck:
    """One graph written and checked: its file, the runtime that ran it and the largest
    difference from the eager nets at each checked size (of R ∘ Î for the whole graph)."""

    name: str
    path: Path
    runtime: str
    max_error: dict[str, float]


def graph_paths(path: Path) -> dict[str, Path]:
    """The whole graph at ``path``, the two nets beside it (``NAME_decom.onnx``, ...)."""
    return {"retinexnet": path, "decom": path.with_name(f"{path.stem}_decom{path.suffix}"),
            "enhance": path.with_name(f"{path.stem}_enhance{path.suffix}")}


def _check_packages() -> None:
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise OnnxUnavailable(f"ONNX export needs {' and '.join(missing)}: "
                              "pip install 'rtretinex[onnx]'")


def _runner(path: Path) -> tuple[str, Callable[[dict[str, np.ndarray]], list[np.ndarray]]]:
    """(runtime name, run) for an ONNX file: onnxruntime where installed, else OpenVINO."""
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return f"onnxruntime {onnxruntime.__version__}", lambda feed: session.run(None, feed)
    from .backends.openvino_backend import import_openvino

    ov = import_openvino()
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return f"openvino {ov.__version__}", lambda feed: list(compiled(feed).values())


def _export(module: nn.Module, inputs: tuple[torch.Tensor, ...], names: list[str],
            outputs: list[str], path: Path) -> None:
    height = torch.export.Dim("height", min=16, max=8192)
    width = torch.export.Dim("width", min=16, max=8192)
    shapes = {name: {2: height, 3: width} for name in names}
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # notes on ops we do not use
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, inputs, dynamo=True, input_names=names,
                                    output_names=outputs, dynamic_shapes=shapes,
                                    opset_version=OPSET, verbose=False)
    program.save(str(path))


def _difference(name: str, run: Callable[[dict[str, np.ndarray]], list[np.ndarray]],
                frame: torch.Tensor, want: RetinexOutput) -> float:
    """Largest |graph − eager| of graph ``name`` on ``frame``: R ∘ Î for the whole graph,
    R and I for the Decom-Net, Î (from the eager R and I) for the Enhance-Net."""
    if name == "retinexnet":
        got, expected = run({"image": frame.numpy()})[3], want.output
    elif name == "decom":
        got = np.concatenate(run({"image": frame.numpy()}), axis=1)
        expected = torch.cat([want.reflectance, want.illumination], dim=1)
    else:
        got = run({"reflectance": want.reflectance.numpy(),
                   "illumination": want.illumination.numpy()})[0]
        expected = want.enhanced_illumination
    return float(np.abs(got - expected.numpy()).max())


def export_onnx(path: Path, images: dict[str, np.ndarray], weights: Path = DEFAULT_WEIGHTS,
                pool: Pool = grid_average, on_step: Callable[[str], None] | None = None
                ) -> list[GraphCheck]:
    """Write the three graphs (``graph_paths(path)``), each checked against the eager nets
    on ``images`` (name → uint8 RGB, sizes of the caller's choice); raise ExportMismatch
    (nothing kept) where one differs by more than ``TOLERANCE`` or does not run. ``pool``:
    how the Enhance-Net's view is averaged (tests pass the frozen ``adaptive_avg_pool2d``
    to see the check catch it)."""
    _check_packages()
    net = create_retinexnet(weights).eval()
    frames = {name: torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
              for name, image in images.items()}
    with torch.inference_mode():
        eager = {size: net(frame) for size, frame in frames.items()}
    example = torch.rand(1, 3, 96, 160)
    with torch.no_grad():
        r, i = net.decom(example)
    graphs = {
        "retinexnet": (_Whole(net, pool), (example,), ["image"],
                       ["reflectance", "illumination", "enhanced", "output"]),
        "decom": (_Decom(net), (example,), ["image"], ["reflectance", "illumination"]),
        "enhance": (_Enhance(net, pool), (r, i), ["reflectance", "illumination"],
                    ["enhanced"]),
    }
    checks, targets = [], graph_paths(path)
    with atomic_write(*targets.values()) as files:
        for name, tmp in zip(targets, files.tmps, strict=True):
            module, inputs, names, outputs = graphs[name]
            if on_step:
                on_step(f"exporting {name}")
            _export(module.eval(), inputs, names, outputs, tmp)
            runtime, run = _runner(tmp)
            errors = {}
            for size, frame in frames.items():
                try:
                    errors[size] = _difference(name, run, frame, eager[size])
                except Exception as exc:  # the runtime's own error types
                    why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                    raise ExportMismatch(f"the exported {name} graph does not run at {size} "
                                         f"({type(exc).__name__}: {why}); nothing was "
                                         "written") from None
            checks.append(GraphCheck(name, targets[name], runtime, errors))
            worst = max(errors, key=errors.__getitem__)
            if errors[worst] > TOLERANCE:
                raise ExportMismatch(f"the exported {name} graph differs from the eager nets "
                                     f"by {errors[worst]:.2e} at {worst} (more than "
                                     f"{TOLERANCE:g}); nothing was written")
    return checks


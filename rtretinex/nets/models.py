"""RetinexNet: Decom-Net and Enhance-Net.

Wei, Wang, Yang, Liu, "Deep Retinex Decomposition for Low-Light Enhancement", BMVC 2018.
Layer shapes follow the official TensorFlow code (Enhance-Net is ``RelightNet`` there).
All nets take NCHW float tensors in [0, 1] of any height and width.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_write
from .weightfile import DEFAULT_WEIGHTS, WeightsError, weights_sha256

__all__ = [
    "DEFAULT_WEIGHTS",
    "DecomNet",
    "EnhanceNet",
    "RetinexHeads",
    "RetinexNet",
    "RetinexOutput",
    "WeightsError",
    "WeightsMeta",
    "count_macs",
    "count_parameters",
    "create_retinexnet",
    "grid_average",
    "load_weights",
    "save_atomic",
    "save_weights",
    "weights_sha256",
]

ARCHITECTURE = "retinexnet"
CHANNELS = 64


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2)


class DecomNet(nn.Module):
    """Splits an image S into reflectance R (3 ch) and illumination I (1 ch), S ≈ R ∘ I."""

    def __init__(self, channels: int = CHANNELS, kernel: int = 3, layers: int = 5) -> None:
        super().__init__()
        self.shallow = _conv(4, channels, kernel * 3)
        self.body = nn.Sequential(
            *[m for _ in range(layers) for m in (_conv(channels, channels, kernel), nn.ReLU())]
        )
        self.head = _conv(channels, 4, kernel)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        brightest = image.amax(dim=1, keepdim=True)
        x = self.head(self.body(self.shallow(torch.cat([brightest, image], dim=1))))
        return torch.sigmoid(x[:, :3]), torch.sigmoid(x[:, 3:4])


def _resize_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")


def _bin_means(size: int | torch.SymInt, grid: int, like: torch.Tensor) -> torch.Tensor:
    """The (grid, size) matrix whose row i averages the span adaptive average pooling gives
    bin i: from floor(i·size/grid) to ceil((i+1)·size/grid)."""
    bins = torch.arange(grid, device=like.device)
    cells = torch.arange(size, device=like.device)
    start = torch.div(bins * size, grid, rounding_mode="floor")
    end = torch.div((bins + 1) * size + grid - 1, grid, rounding_mode="floor")
    inside = (cells[None, :] >= start[:, None]) & (cells[None, :] < end[:, None])
    return inside.to(like.dtype) / (end - start)[:, None].to(like.dtype)


def grid_average(x: torch.Tensor, grid: int) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, grid)`` as two matrix products built from x's size at run
    time: ONNX has no adaptive pooling, and an exporter freezes its kernel to the size it
    traced (the graph then fails or differs at any other size)."""
    rows = _bin_means(x.shape[-2], grid, x)
    columns = _bin_means(x.shape[-1], grid, x)
    return rows @ x @ columns.transpose(0, 1)


class EnhanceNet(nn.Module):
    """Brightens the illumination: (R, I) → Î, an encoder-decoder with additive skips."""

    def __init__(self, channels: int = CHANNELS, kernel: int = 3) -> None:
        super().__init__()
        self.stem = _conv(4, channels, kernel)
        self.down = nn.ModuleList(_conv(channels, channels, kernel, stride=2) for _ in range(3))
        self.up = nn.ModuleList(_conv(channels, channels, kernel) for _ in range(3))
        self.fuse = nn.Conv2d(3 * channels, channels, 1)
        self.head = _conv(channels, 1, kernel)

    def forward(self, reflectance: torch.Tensor, illumination: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(torch.cat([reflectance, illumination], dim=1))]
        for conv in self.down:
            skips.append(F.relu(conv(skips[-1])))
        x = skips.pop()
        decoded = []
        for conv in self.up:
            skip = skips.pop()
            x = F.relu(conv(_resize_to(x, skip))) + skip
            decoded.append(x)
        gathered = torch.cat([_resize_to(d, decoded[-1]) for d in decoded], dim=1)
        return self.head(self.fuse(gathered))


class RetinexOutput(NamedTuple):
    """Everything one RetinexNet pass produces (all NCHW)."""

    reflectance: torch.Tensor
    illumination: torch.Tensor
    enhanced_illumination: torch.Tensor
    output: torch.Tensor


class RetinexNet(nn.Module):
    """Decom-Net followed by Enhance-Net; output = R ∘ Î (unclamped while training).

    ``enhance_grid`` > 0 runs the Enhance-Net on (R, I) area-averaged to a fixed grid×grid
    view of the whole frame and upsamples Î bilinearly: the same net then judges brightness
    from the whole frame (its receptive field is ~47 px) at any input size, and Î, which is
    smooth, loses little. 0 runs it at full resolution, as in the paper.
    """

    def __init__(self, enhance_grid: int = 0) -> None:
        super().__init__()
        self.decom = DecomNet()
        self.enhance = EnhanceNet()
        self.enhance_grid = enhance_grid

    def relight(self, reflectance: torch.Tensor, illumination: torch.Tensor,
                pool: Callable[[torch.Tensor, int], torch.Tensor] = F.adaptive_avg_pool2d
                ) -> torch.Tensor:
        """Î at the resolution of R, computed on the enhance_grid view of the frame (averaged
        by ``pool``: ``grid_average`` for an ONNX export)."""
        grid = self.enhance_grid
        if grid == 0:
            return self.enhance(reflectance, illumination)
        small = self.enhance(pool(reflectance, grid), pool(illumination, grid))
        return F.interpolate(small, size=reflectance.shape[-2:], mode="bilinear",
                             align_corners=False)

    def forward(self, image: torch.Tensor,
                pool: Callable[[torch.Tensor, int], torch.Tensor] = F.adaptive_avg_pool2d
                ) -> RetinexOutput:
        reflectance, illumination = self.decom(image)
        enhanced = self.relight(reflectance, illumination, pool)
        output = reflectance * enhanced
        if not self.training:
            output = output.clamp(0.0, 1.0)
        return RetinexOutput(reflectance, illumination, enhanced, output)


class RetinexHeads(nn.Module):
    """Export-friendly view of RetinexNet: image → (R, I, Î) as a plain tuple."""

    def __init__(self, net: RetinexNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        reflectance, illumination = self.net.decom(image)
        return reflectance, illumination, self.net.relight(reflectance, illumination)


@dataclass
class WeightsMeta:
    """What a shipped weights file says about itself."""

    architecture: str = ARCHITECTURE
    parameters: int = 0
    enhance_grid: int = 0
    training_data: str = ""
    command: str = ""
    validation: dict[str, float] = field(default_factory=dict)
    held_out: list[str] = field(default_factory=list)
    notes: str = ""


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, height: int, width: int) -> int:
    """Multiply-accumulates of the model's convolutions on one height×width RGB image
    (traced on a copy on the meta device: shapes only, nothing is computed)."""
    model = copy.deepcopy(model).to("meta")
    total = 0

    def add(conv: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = conv.kernel_size
        total += output.numel() * (conv.in_channels // conv.groups) * kh * kw

    hooks = [m.register_forward_hook(add) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, height, width, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def save_weights(model: RetinexNet, path: Path, meta: WeightsMeta) -> None:
    """Write a plain state dict plus JSON-able metadata (loadable with weights_only=True)."""
    meta.parameters = count_parameters(model)
    meta.enhance_grid = model.enhance_grid
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_atomic({"state_dict": state, "meta": json.dumps(asdict(meta))}, path)


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temporary file renamed into place: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        torch.save(obj, handle.tmp)


def load_weights(model: RetinexNet, path: Path) -> WeightsMeta:
    """Load a weights file into ``model`` safely; raise WeightsError with the cause and fix."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta = WeightsMeta(**json.loads(blob["meta"]))
        state = blob["state_dict"]
    except Exception as exc:  # any failure here means a bad file
        raise WeightsError(
            f"cannot read weights {path}: not a rtretinex weights file ({type(exc).__name__})"
        ) from None
    if not isinstance(meta.enhance_grid, int) or meta.enhance_grid < 0:
        raise WeightsError(f"weights {path} have a bad enhance_grid: {meta.enhance_grid!r}")
    if meta.architecture != ARCHITECTURE:
        raise WeightsError(
            f"weights {path} are for architecture {meta.architecture!r}, expected {ARCHITECTURE!r}"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise WeightsError(f"weights {path} do not fit RetinexNet: {first}") from None
    model.enhance_grid = meta.enhance_grid
    return meta


def create_retinexnet(weights: Path | None = DEFAULT_WEIGHTS) -> RetinexNet:
    """Build RetinexNet in eval mode, loading ``weights`` unless it is None."""
    model = RetinexNet()
    if weights is not None:
        load_weights(model, weights)
    return model.eval()

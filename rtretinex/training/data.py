"""LOL-format paired data: discovery, in-memory dataset, patch sampling, low-light simulation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..images import IMAGE_SUFFIXES, read_image

__all__ = [
    "PairedImages",
    "find_pairs",
    "simulate_camera_night",
    "simulate_low_light",
    "split_names",
    "to_tensor",
    "to_uint8",
]


def find_pairs(root: Path) -> list[str]:
    """Names (stems) present in both ``root/low`` and ``root/high``; raise InputError otherwise."""
    root = Path(root)
    dirs = {side: root / side for side in ("low", "high")}
    for side, d in dirs.items():
        if not d.is_dir():
            raise InputError(f"{root} is not a LOL-format folder: missing {side}/ subfolder")
    stems = {
        side: {p.stem: p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
        for side, d in dirs.items()
    }
    if not stems["low"]:
        raise InputError(f"no images in {dirs['low']} (expected {', '.join(IMAGE_SUFFIXES)})")
    only_low = sorted(stems["low"].keys() - stems["high"].keys())
    only_high = sorted(stems["high"].keys() - stems["low"].keys())
    if only_low or only_high:
        example = (only_low or only_high)[0]
        raise InputError(
            f"low/ and high/ names differ in {root}: {len(only_low)} only in low/, "
            f"{len(only_high)} only in high/ (e.g. {example!r})"
        )
    return sorted(stems["low"], key=_natural_key)


def _natural_key(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 62, name)


def split_names(names: list[str], held_out: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic (train, validation) split holding out ``held_out`` names."""
    if not 0 <= held_out < len(names):
        raise ValueError(f"held_out must be in [0, {len(names)}), got {held_out}")
    order = np.random.default_rng(seed).permutation(len(names))
    val = sorted((names[i] for i in order[:held_out]), key=_natural_key)
    train = sorted((names[i] for i in order[held_out:]), key=_natural_key)
    return train, val


def _path_for(folder: Path, stem: str) -> Path:
    for suffix in IMAGE_SUFFIXES:
        p = folder / f"{stem}{suffix}"
        if p.is_file():
            return p
    raise InputError(f"no image named {stem} in {folder}")


@dataclass
class PairedImages:
    """Low/high pairs held in memory as uint8 RGB arrays (H, W, 3)."""

    names: list[str]
    low: list[np.ndarray]
    high: list[np.ndarray]

    @classmethod
    def load(cls, root: Path, names: list[str] | None = None) -> PairedImages:
        root = Path(root)
        names = find_pairs(root) if names is None else names
        low = [read_image(_path_for(root / "low", n)) for n in names]
        high = [read_image(_path_for(root / "high", n)) for n in names]
        for n, lo, hi in zip(names, low, high):
            if lo.shape != hi.shape:
                raise InputError(f"pair {n!r} has different sizes: {lo.shape} vs {hi.shape}")
        return cls(names, low, high)

    def sample(self, rng: np.random.Generator, batch: int, patch: int) -> tuple[
        torch.Tensor, torch.Tensor
    ]:
        """Random ``patch``×``patch`` crops with one of 8 flips/rotations, as NCHW floats."""
        lows, highs = [], []
        for _ in range(batch):
            i = int(rng.integers(len(self.names)))
            h, w = self.low[i].shape[:2]
            y, x = int(rng.integers(h - patch + 1)), int(rng.integers(w - patch + 1))
            k, flip = int(rng.integers(4)), bool(rng.integers(2))
            for src, dst in ((self.low[i], lows), (self.high[i], highs)):
                crop = np.rot90(src[y : y + patch, x : x + patch], k)
                dst.append(crop[:, ::-1] if flip else crop)
        return to_tensor(np.stack(lows)), to_tensor(np.stack(highs))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) or (N, H, W, 3) → float NCHW in [0, 1]."""
    arr = np.ascontiguousarray(images)
    t = torch.from_numpy(arr).float().div_(255.0)
    t = t.permute(2, 0, 1).unsqueeze(0) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.contiguous()


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """Float NCHW in [0, 1] → uint8 (N, H, W, 3), rounded."""
    t = batch.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return t.permute(0, 2, 3, 1).cpu().numpy()


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def simulate_low_light(image: np.ndarray, exposure: float = 0.08, shot: float = 0.002,
                       read: float = 0.003, seed: int = 0) -> np.ndarray:
    """A dark, noisy capture of a well-lit uint8 RGB image.

    Exposure drop in linear light, Poisson-Gaussian sensor noise (variance
    ``shot · signal + read²``), back to sRGB and quantised to 8 bits.
    """
    _check_rgb(image)
    return np.round(_linear_to_srgb(_sensor(image, exposure, shot, read, seed)) * 255.0
                    ).astype(np.uint8)


def simulate_camera_night(image: np.ndarray, exposure: float = 0.02, shot: float = 0.002,
                          read: float = 0.003, nr_sigma: float = 1.2, chroma_bias: float = 1.5,
                          seed: int = 0) -> np.ndarray:
    """A night frame as a camera writes it, before its encoder: the yuv420p buffer (uint8,
    even sides) of a well-lit uint8 RGB image.

    Exposure drop in linear light with Poisson-Gaussian noise (as ``simulate_low_light``),
    the camera's own noise reduction (a Gaussian of ``nr_sigma`` pixels, 0: none), back to
    sRGB, and a black level whose chroma is not neutral (``chroma_bias`` codes added to U
    and V). Encode the result (libx264 CRF 28) for the codec's blocks and banding.
    """
    _check_rgb(image)
    height, width = image.shape[0] - image.shape[0] % 2, image.shape[1] - image.shape[1] % 2
    linear = _sensor(image[:height, :width], exposure, shot, read, seed).astype(np.float32)
    if nr_sigma > 0:
        linear = cv2.GaussianBlur(linear, (0, 0), nr_sigma)
    rgb = np.round(_linear_to_srgb(linear) * 255.0).astype(np.uint8)
    yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).astype(np.float32)
    yuv[height:] += chroma_bias
    return np.clip(np.round(yuv), 0, 255).astype(np.uint8)


def _check_rgb(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB (H, W, 3), got {image.dtype} {image.shape}")


def _sensor(image: np.ndarray, exposure: float, shot: float, read: float, seed: int
            ) -> np.ndarray:
    """Linear light of ``image`` times ``exposure``, with shot and read noise."""
    rng = np.random.default_rng(seed)
    signal = _srgb_to_linear(image.astype(np.float64) / 255.0) * exposure
    return signal + rng.normal(size=signal.shape) * np.sqrt(shot * signal + read**2)

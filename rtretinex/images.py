"""Still images: reading, atomic writing and folder listing (uint8 RGB arrays)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_write_bytes
from .errors import InputError, OutputError

__all__ = ["IMAGE_SUFFIXES", "list_images", "read_image", "write_image"]

IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: Path) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3); raise InputError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise InputError(f"cannot decode image {path} (empty, corrupt or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_image(path: Path, rgb: np.ndarray) -> None:
    """Write uint8 RGB atomically: a temporary file renamed into place, never a partial one."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}")
    ok, encoded = cv2.imencode(path.suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"cannot encode an image as {path.suffix!r}: use .png, .jpg or .webp")
    try:
        atomic_write_bytes(path, encoded.tobytes())
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted; raise InputError if there are none."""
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InputError(f"no images in {folder} (expected {', '.join(IMAGE_SUFFIXES)})")
    return images

"""Still images: reading, atomic writing and folder listing.

``load_image`` keeps what the file holds: 8 or 16 bits per channel, and the alpha channel
apart; ``write_image`` writes it back (16 bits where the format can hold them: PNG, TIFF).
``read_image`` is the 8-bit RGB view that training and the benchmarks use.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_write_bytes
from .errors import InputError, OutputError

__all__ = ["IMAGE_SUFFIXES", "list_images", "load_image", "read_image", "write_image"]

IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")
ALPHA_SUFFIXES = (".png", ".tif", ".tiff", ".webp")


def load_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB (H, W, 3) as the file holds it (uint8 or uint16), turned upright as its EXIF
    orientation says (a phone's portrait photo is stored sideways; the output is written
    upright, without the tag), and its alpha channel (same dtype) or None; raise
    InputError with the reason. An image with alpha is taken as stored."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR) if data.size else None
    if image is None:
        raise InputError(f"cannot decode image {path} (empty, corrupt or not an image)")
    if image.dtype not in (np.uint8, np.uint16):  # float TIFFs and the like: 8 bits
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if path.suffix.lower() in ALPHA_SUFFIXES:
        stored = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if (stored is not None and stored.ndim == 3 and stored.shape[2] == 4
                and stored.dtype == image.dtype):
            return cv2.cvtColor(stored, cv2.COLOR_BGRA2RGB), stored[..., 3].copy()
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), None


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3), whatever its depth and alpha."""
    rgb, _ = load_image(path)
    return _eight_bit(rgb)


def _eight_bit(image: np.ndarray) -> np.ndarray:
    """A uint16 image's top 8 bits; a uint8 image as it is."""
    return image if image.dtype == np.uint8 else (image >> 8).astype(np.uint8)


def write_image(path: Path, rgb: np.ndarray, alpha: np.ndarray | None = None) -> None:
    """Write RGB (uint8 or uint16) and an optional alpha channel atomically: a temporary file
    renamed into place, never a partial one. Formats that cannot hold 16 bits get 8; formats
    without alpha get none."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}")
    suffix = path.suffix.lower()
    if rgb.dtype == np.uint16 and suffix not in SIXTEEN_BIT_SUFFIXES:
        rgb = _eight_bit(rgb)
        alpha = None if alpha is None else _eight_bit(alpha)
    if alpha is not None and suffix in ALPHA_SUFFIXES:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
        bgr[..., 3] = alpha
    else:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(path.suffix or ".png", bgr)
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

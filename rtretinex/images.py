"""Still images: reading, atomic writing and folder listing.

``load_image`` keeps what the file holds: 8 or 16 bits per channel, and the alpha channel
apart; ``write_image`` writes it back (16 bits where the format can hold them: PNG, TIFF),
with the photo's EXIF (``upright_exif``: camera, date, place) where the format keeps it
(JPEG, PNG, WebP). ``read_image`` is the 8-bit RGB view that training and the benchmarks use.
"""

from __future__ import annotations

import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .atomic import atomic_write_bytes
from .errors import InputError, OutputError

__all__ = ["IMAGE_SUFFIXES", "list_images", "load_image", "read_image", "upright_exif",
           "write_image"]

IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")
ALPHA_SUFFIXES = (".png", ".tif", ".tiff", ".webp")
ORIENTATION_TAG = 0x0112  # EXIF's orientation: 1 is upright
EXIF_HEADER = b"Exif\x00\x00"  # before the TIFF structure in a JPEG's APP1 segment


# How a picture stored with each EXIF orientation (2-8; 1 is upright) is turned upright.
UPRIGHT = {2: lambda a: cv2.flip(a, 1), 3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
           4: lambda a: cv2.flip(a, 0), 5: cv2.transpose,
           6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
           7: lambda a: cv2.flip(cv2.transpose(a), -1),
           8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE)}


def load_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB (H, W, 3) as the file holds it (uint8 or uint16) and its alpha channel (same
    dtype) or None, both turned upright as its EXIF orientation says (a phone stores a
    portrait photo sideways; the output is written upright, ``upright_exif``); raise
    InputError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise InputError(f"cannot decode image {path} (empty, corrupt or not an image)")
    if image.dtype not in (np.uint8, np.uint16):  # float TIFFs and the like: 8 bits
        image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    exif = _exif(path)
    turn = UPRIGHT.get(exif.get(ORIENTATION_TAG) if exif else None, lambda a: a)
    image = turn(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), None
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB), image[..., 3].copy()
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), None


def upright_exif(path: Path) -> bytes | None:
    """A photo's EXIF block (EXIF_HEADER + TIFF) with its orientation set to upright, as
    ``load_image`` turns the pixels; None where it has none or it cannot be read."""
    exif = _exif(path)
    if not exif:
        return None
    exif[ORIENTATION_TAG] = 1
    return exif.tobytes()


def _exif(path: Path) -> Image.Exif | None:
    """An image file's EXIF tags, from its header alone; None where they cannot be read."""
    try:
        with warnings.catch_warnings():  # only the header is read: a huge photo is no bomb
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.getexif()
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3), whatever its depth and alpha."""
    rgb, _ = load_image(path)
    return _eight_bit(rgb)


def _eight_bit(image: np.ndarray) -> np.ndarray:
    """A uint16 image's top 8 bits; a uint8 image as it is."""
    return image if image.dtype == np.uint8 else (image >> 8).astype(np.uint8)


def write_image(path: Path, rgb: np.ndarray, alpha: np.ndarray | None = None,
                exif: bytes | None = None) -> None:
    """Write RGB (uint8 or uint16), an optional alpha channel and an optional EXIF block
    (``upright_exif``) atomically: a temporary file renamed into place, never a partial one.
    Formats that cannot hold 16 bits get 8; formats without alpha get none; EXIF goes into
    JPEG, PNG and WebP only."""
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
    data = encoded.tobytes()
    if exif is not None:
        data = _with_exif(data, suffix, exif, bgr.shape)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _with_exif(encoded: bytes, suffix: str, exif: bytes, shape: tuple[int, ...]) -> bytes:
    """An encoded image (of ``shape``: rows, columns, channels) with an EXIF block put where
    its format keeps one: a JPEG's APP1 segment after the JFIF one, a PNG's eXIf chunk after
    the header chunk, a WebP's EXIF chunk at its end (``_webp_with_exif``); other formats
    (BMP has no place for it; TIFF would need its directories rewritten), and a block too
    large for a JPEG segment, as they are."""
    if suffix in (".jpg", ".jpeg") and len(exif) + 2 <= 0xFFFF:
        at = 2  # after the start-of-image marker, and after JFIF's APP0 where it is there
        if encoded[2:4] == b"\xff\xe0":
            at = 4 + int.from_bytes(encoded[4:6], "big")
        segment = b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
        return encoded[:at] + segment + encoded[at:]
    if suffix == ".png" and exif.startswith(EXIF_HEADER):
        chunk = b"eXIf" + exif[len(EXIF_HEADER):]
        at = 8 + 25  # after the signature and the IHDR chunk
        return (encoded[:at] + (len(chunk) - 4).to_bytes(4, "big") + chunk
                + zlib.crc32(chunk).to_bytes(4, "big") + encoded[at:])
    if suffix == ".webp" and exif.startswith(EXIF_HEADER) and encoded[8:12] == b"WEBP":
        return _webp_with_exif(encoded, exif[len(EXIF_HEADER):], shape)
    return encoded


def _webp_with_exif(encoded: bytes, tiff: bytes, shape: tuple[int, ...]) -> bytes:
    """A WebP file with an EXIF chunk (the TIFF structure, as in PNG) after its image: a
    simple file (one VP8 or VP8L chunk, as OpenCV writes) becomes an extended one, whose
    VP8X header chunk flags the EXIF (and the alpha where the image has four channels)."""
    exif_flag, alpha_flag = 0x08, 0x10
    chunks = encoded[12:]
    if chunks[:4] == b"VP8X":
        header = bytearray(chunks[:18])
        header[8] |= exif_flag
        chunks = bytes(header) + chunks[18:]
    else:
        flags = exif_flag | (alpha_flag if len(shape) > 2 and shape[2] == 4 else 0)
        canvas = (shape[1] - 1).to_bytes(3, "little") + (shape[0] - 1).to_bytes(3, "little")
        chunks = b"VP8X" + (10).to_bytes(4, "little") + bytes([flags, 0, 0, 0]) + canvas + chunks
    chunks += b"EXIF" + len(tiff).to_bytes(4, "little") + tiff + b"\x00" * (len(tiff) % 2)
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WEBP" + chunks


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted; raise InputError if there are none."""
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InputError(f"no images in {folder} (expected {', '.join(IMAGE_SUFFIXES)})")
    return images

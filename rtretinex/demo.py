"""``make demo``: darken a real photo with the low-light simulator, enhance it, score it.

The photo ships with scikit-image (astronaut), so the demo needs no download and no data.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from skimage import data as skdata

from . import metrics
from .backends import create_backend
from .data import simulate_low_light
from .enhancer import Enhancer
from .images import write_image

__all__ = ["main"]

OUT_DIR = Path("demo_output")


def main() -> int:
    console = Console()
    original = skdata.astronaut()
    dark = simulate_low_light(original, seed=0)
    enhancer = Enhancer(create_backend("auto"))
    enhanced = enhancer(dark)
    OUT_DIR.mkdir(exist_ok=True)
    for name, image in (("original", original), ("dark", dark), ("enhanced", enhanced)):
        write_image(OUT_DIR / f"astronaut_{name}.png", image)

    backend = enhancer.backend
    table = Table(title=f"astronaut 512×512, simulated low light → RetinexNet "
                        f"({backend.name} {backend.precision})")
    for column in ("image", "mean brightness", "PSNR vs original (dB)", "SSIM vs original"):
        table.add_column(column, justify="right")
    for name, image in (("dark input", dark), ("enhanced", enhanced)):
        table.add_row(name, f"{image.mean():.1f}", f"{metrics.psnr(image, original):.2f}",
                      f"{metrics.ssim(image, original):.3f}")
    console.print(table)
    console.print(f"images written to {OUT_DIR}/ (astronaut_original/dark/enhanced.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

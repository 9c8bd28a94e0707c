"""``make demo``: the product's two jobs on built-in input, no download and no data needed.

1. A dark clip (a bundled photo panned across a 1280×720 frame, darkened by the low-light
   simulator, with an AAC audio track) is transcoded by run_stream's own code path:
   FPS and brightness before/after are printed.
2. A dark photo (scikit-image's astronaut through the same simulator) is enhanced in
   quality mode and scored against the original (PSNR/SSIM).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import numpy as np
from rich.console import Console
from rich.table import Table
from skimage import data as skdata

from . import cli, metrics
from .frame.enhancer import Enhancer
from .images import write_image
from .nets.backends import create_backend
from .samples import write_dark_clip
from .training.data import simulate_low_light

__all__ = ["main"]

OUT_DIR = Path("demo_output")


def mean_brightness(path: Path) -> float:
    """Mean pixel value (0-255) over every frame of a video."""
    with av.open(str(path)) as container:
        return float(np.mean([f.to_ndarray(format="rgb24").mean()
                              for f in container.decode(video=0)]))


def video_demo(console: Console) -> int:
    dark, bright, stats_path = (OUT_DIR / n for n in ("dark_clip.mp4", "bright_clip.mp4",
                                                     "bright_clip_stats.json"))
    console.rule("1. transcode a dark 720p clip (with audio)")
    write_dark_clip(dark, frames=150, width=1280, height=720)
    argv = [str(dark), "-o", str(bright), "-y", "--stats-json", str(stats_path)]
    console.print(f"$ python run_stream.py {' '.join(argv)}")
    code = cli.main(argv)
    if code != 0:
        return code
    stats = json.loads(stats_path.read_text())
    console.print(f"[bold]{stats['frames']} frames at {stats['fps']:.1f} FPS[/] end to end; "
                  f"mean brightness {mean_brightness(dark):.1f} → {mean_brightness(bright):.1f}"
                  f" (0-255)")
    return 0


def photo_demo(console: Console) -> None:
    console.rule("2. enhance a dark photo in quality mode")
    original = skdata.astronaut()
    dark = simulate_low_light(original, seed=0)
    enhancer = Enhancer(create_backend("auto"))
    enhanced = enhancer(dark)
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


def main() -> int:
    console = Console()
    OUT_DIR.mkdir(exist_ok=True)
    code = video_demo(console)
    if code != 0:
        return code
    photo_demo(console)
    console.print(f"outputs in {OUT_DIR}/: dark_clip.mp4, bright_clip.mp4, astronaut_*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""FPS and latency of every backend × size × mode on this machine, beside its limits.

Per backend, size and mode it measures (warm-up first, CUDA synchronised, median and p95):
  model    the nets alone on their input (full frame, or the downscaled one in fast mode)
  enhance  the whole per-frame core on a decoded (yuv420p) frame: nets + smoothing +
           denoising + composing
  pipeline end-to-end FPS on a generated H.264 clip (decode → enhance → encode threads),
           and the process's CPU ms per frame over all threads (what enhancement adds:
           the pipeline's minus the passthrough's)
and, in the same run, the machine's limits: a decode → encode passthrough with the same
encoder (no enhancement) and the peak matmul throughput in the backend's precision.
Ratios: pipeline / passthrough, and achieved GFLOP/s / peak (the nets' convolution MACs,
counted by models.count_macs: 283,008 per pixel with the Enhance-Net at full resolution;
with its 32×32 view, the Decom-Net's 207,360 per pixel plus 77 M for the view).

  python benchmarks/fps.py [--backends openvino,torch-cpu] [--sizes 1280x720]
                           [--modes quality,fast] [--clips VIDEO ...] [--json PATH]
                           [--plot PATH.png]

``--clips`` measures on your own videos (each at its own size) instead of generated ones.
``--source camera`` generates them as a camera writes night video (its noise reduction,
CRF 28: a few Mbit/s) instead of with their sensor noise kept (CRF 12, ~70 Mbit/s at 720p:
decoding that is most of the passthrough's cost).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rtretinex import bench


def main(argv: list[str] | None = None) -> int:
    return bench.main(argv, prog="python benchmarks/fps.py", defaults=bench.RESEARCH,
                      rerun=[sys.executable, str(Path(__file__).resolve())],
                      description=__doc__)


if __name__ == "__main__":
    sys.exit(main())

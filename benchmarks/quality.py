#!/usr/bin/env python3
"""PSNR/SSIM of the enhancer on a LOL-format folder (low/ and high/ with matching names).

Every low/ image is enhanced without looking at its high/ partner (no ground-truth
brightness matching), then compared with it using scikit-image's PSNR and SSIM
(RGB, data_range 255, channel_axis=2). Prints a table and optionally writes JSON.

  python benchmarks/quality.py --data DIR [--json PATH] [--mode quality|fast]
                               [--backend NAME] [--held-out]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rtretinex import metrics
from rtretinex.errors import InputError, UsageError, report
from rtretinex.frame.enhancer import Enhancer
from rtretinex.frame.settings import DEFAULT_DENOISE, MODES, EnhanceSettings
from rtretinex.nets.backends import BACKENDS, BackendUnavailable, create_backend
from rtretinex.nets.models import DEFAULT_WEIGHTS, RetinexNet, WeightsError, load_weights
from rtretinex.training.data import PairedImages, find_pairs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="LOL-format folder")
    p.add_argument("--json", type=Path, help="write results here")
    p.add_argument("--mode", choices=MODES, default="quality")
    p.add_argument("--scale", type=int, default=None, help="fast mode downscale factor")
    p.add_argument("--denoise", type=float, default=None,
                   help=f"reflectance denoise, 0 off (default per mode: {DEFAULT_DENOISE})")
    p.add_argument("--backend", default="torch-cpu",
                   help=f"one of auto, {', '.join(s.name for s in BACKENDS)} (default torch-cpu)")
    p.add_argument("--precision", default=None)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--held-out", action="store_true",
                   help="only the pairs the weights' metadata lists as held out of training")
    return p


def held_out_names(weights: Path, available: list[str]) -> list[str]:
    """Names the weights never trained on, restricted to those present in the folder."""
    names = load_weights(RetinexNet(), weights).held_out
    if not names:
        raise InputError(f"{weights} lists no held-out pairs; drop --held-out")
    present = [n for n in names if n in set(available)]
    if not present:
        raise InputError("none of the weights' held-out pairs are in this folder")
    return present


def evaluate(enhancer: Enhancer, data: PairedImages) -> list[dict]:
    """Per-image PSNR/SSIM and enhancement time."""
    rows = []
    for name, low, high in zip(data.names, data.low, data.high):
        start = time.perf_counter()
        out = enhancer(low)
        seconds = time.perf_counter() - start
        rows.append({"name": name, "psnr": metrics.psnr(out, high),
                     "ssim": metrics.ssim(out, high), "seconds": seconds})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        names = find_pairs(args.data)
        if args.held_out:
            names = held_out_names(args.weights, names)
        data = PairedImages.load(args.data, names)
        backend = create_backend(args.backend, args.precision, args.weights)
        enhancer = Enhancer(backend, EnhanceSettings(mode=args.mode, scale=args.scale,
                                                         denoise=args.denoise))
    except (UsageError, InputError, WeightsError, BackendUnavailable) as exc:
        return report(exc)

    rows = evaluate(enhancer, data)
    n = len(rows)
    result = {
        "psnr": sum(r["psnr"] for r in rows) / n,
        "ssim": sum(r["ssim"] for r in rows) / n,
        "n": n,
        "data": str(args.data),
        "held_out_only": args.held_out,
        "mode": args.mode,
        "scale": enhancer.settings.scale_for(*data.low[0].shape[:2]),
        "denoise": enhancer.settings.denoise,
        "backend": backend.name,
        "precision": backend.precision,
        "weights": str(args.weights),
        "per_image": rows,
    }
    table = Table(title=f"{args.data} — {backend.name} {backend.precision}, {args.mode} mode, "
                        f"denoise {enhancer.settings.denoise}")
    for column in ("image", "PSNR (dB)", "SSIM", "ms"):
        table.add_column(column, justify="right")
    for r in rows:
        ms = f"{r['seconds'] * 1e3:.0f}"
        table.add_row(r["name"], f"{r['psnr']:.2f}", f"{r['ssim']:.3f}", ms)
    table.add_section()
    table.add_row(f"mean of {n}", f"{result['psnr']:.2f}", f"{result['ssim']:.3f}", "")
    console.print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

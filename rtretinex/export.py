"""Build an engine ahead of time: ``python -m rtretinex.export --backend tensorrt``.

The engine lands in ``engines/`` under its cache key; each build proves itself by
reloading the saved engine and comparing it with the eager model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import UsageError, report
from .nets.backends import BACKENDS, BackendUnavailable, create_backend
from .nets.backends.tensorrt_backend import ShapeProfile
from .nets.models import DEFAULT_WEIGHTS, WeightsError

__all__ = ["main"]

BUILDABLE = ("tensorrt", "openvino")


def _size(text: str) -> tuple[int, int]:
    """'1280x720' → (720, 1280) as (height, width)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return height, width


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rtretinex.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=BUILDABLE, required=True)
    p.add_argument("--precision", default=None,
                   help=", ".join(f"{s.name}: {'/'.join(s.precisions)}" for s in BACKENDS
                                  if s.name in BUILDABLE))
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--min-size", type=_size, default="64x64",
                   help="smallest frame of the TensorRT profile (default 64x64)")
    p.add_argument("--opt-size", type=_size, default="1280x720",
                   help="frame size TensorRT tunes for (default 1280x720)")
    p.add_argument("--max-size", type=_size, default="3840x2160",
                   help="largest frame of the TensorRT profile (default 3840x2160)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = {}
    if args.backend == "tensorrt":
        options["profile"] = ShapeProfile(args.min_size, args.opt_size, args.max_size)
    try:
        backend = create_backend(args.backend, args.precision, args.weights, **options)
    except (UsageError, BackendUnavailable, WeightsError, RuntimeError) as exc:
        return report(exc)
    path = getattr(backend, "engine_file", None) or getattr(backend, "ir_path", None)
    print(f"{backend.name} {backend.precision} engine ready on {backend.device_name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

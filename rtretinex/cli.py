"""Command line for run_stream.py: argument parsing, the image jobs and rich output.

Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .backends import BACKENDS, BackendUnavailable, create_backend
from .enhancer import MODES, Enhancer, EnhanceSettings
from .errors import InputError, OutputError, UsageError
from .images import IMAGE_SUFFIXES, list_images, read_image, write_image
from .models import DEFAULT_WEIGHTS, WeightsError

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    backends = ", ".join(["auto", *(s.name for s in BACKENDS)])
    p = argparse.ArgumentParser(
        prog="run_stream.py",
        description="Enhance dark images with RetinexNet.",
        epilog="Examples:\n  python run_stream.py dark.png -o bright.png\n"
               "  python run_stream.py dark_photos/ -o bright_photos/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("-o", "--output", type=Path,
                   help="output image (for an image) or folder (for a folder; PNGs are written)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--mode", choices=MODES, default="quality",
                   help="quality: nets at full resolution; fast: nets on a downscaled frame")
    p.add_argument("--scale", type=int, default=None,
                   help="fast mode downscale factor (default: picked from the frame size)")
    p.add_argument("--backend", default="auto", help=f"one of: {backends} (default auto)")
    p.add_argument("--precision", default=None, help="backend precision (default: its best)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file")
    return p


def _image_jobs(source: Path, output: Path | None, overwrite: bool) -> list[tuple[Path, Path]]:
    """(input, output) pairs for an image or a folder; validates before anything is written."""
    if output is None:
        raise UsageError("an image input needs -o OUTPUT (a file, or a folder for a folder)")
    if source.is_dir():
        if output.exists() and not output.is_dir():
            raise UsageError(f"{source} is a folder, so -o must be a folder; {output} is a file")
        if not output.parent.is_dir():
            raise OutputError(f"output folder's parent does not exist: {output.parent}")
        jobs = [(p, output / f"{p.stem}.png") for p in list_images(source)]
    else:
        if output.suffix.lower() not in IMAGE_SUFFIXES:
            raise UsageError(f"output {output} needs an image suffix ({', '.join(IMAGE_SUFFIXES)})")
        if not output.parent.is_dir():
            raise OutputError(f"output folder does not exist: {output.parent}")
        jobs = [(source, output)]
    existing = [out for _, out in jobs if out.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise OutputError(f"{existing[0]}{more} already exists; pass -y to overwrite")
    if any(src.resolve() == out.resolve() for src, out in jobs if out.exists()):
        raise UsageError("output would replace the input; choose another -o")
    return jobs


def run_images(args: argparse.Namespace, console: Console) -> int:
    """Enhance one image or every image of a folder; unreadable folder entries are skipped."""
    source = Path(args.input)
    jobs = _image_jobs(source, args.output, args.overwrite)
    if not source.is_dir():
        read_image(source)  # fail on an unreadable image before loading the nets
    enhancer = Enhancer(
        create_backend(args.backend, args.precision, args.weights),
        EnhanceSettings(args.mode, args.scale),
    )
    if source.is_dir():
        args.output.mkdir(exist_ok=True)
    failed = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("enhancing", total=len(jobs))
        for src, out in jobs:
            try:
                write_image(out, enhancer(read_image(src)))
            except InputError as exc:
                if not source.is_dir():
                    raise
                logging.getLogger("rtretinex").warning("skipped: %s", exc)
                failed += 1
            progress.advance(task)
    backend = enhancer.backend
    console.print(f"wrote {len(jobs) - failed} image(s) to {args.output} "
                  f"[dim]({backend.name} {backend.precision}, {args.mode} mode)[/]")
    return EXIT_FAILURE if failed else EXIT_OK


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=True)
    logging.basicConfig(level=logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_time=False, show_path=False)])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        source = Path(args.input)
        if not source.exists():
            raise InputError(f"input not found: {source}")
        return run_images(args, console)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (InputError, OutputError, WeightsError, BackendUnavailable) as exc:
        return _fail(str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())

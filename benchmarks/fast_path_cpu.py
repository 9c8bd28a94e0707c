#!/usr/bin/env python3
"""The fast path's CPU a frame without the nets, in one process: steadier than the
pipeline's figure (``fps.py``: the pipeline's CPU less the passthrough's, two noisy runs) for
comparing two versions of the per-pixel work.

The clip's frames are decoded into memory first; ``Enhancer.enhance`` runs on each with
the nets every ``--nets-every`` frames (the same frames for any version), after a warm-up
on the first ten (numba compiles there), and the nets' own CPU time is taken off. CPU time
is the process's, over every thread (OpenVINO's pool included). OpenCV works on one
thread, as a file's pipeline runs it (``video.pipeline.opencv_on_one_thread``);
``--opencv-threads 0`` gives it its default pool.

  python benchmarks/fast_path_cpu.py [--clip VIDEO] [--nets-every 3] [--opencv-threads 1]
                                     [--json PATH]

Without ``--clip`` it writes the clip ``fps.py`` measures (720p, 150 frames) to a temporary
folder. To compare versions, make one clip and run each version's checkout on it:
``cd WORKTREE && PYTHONPATH=WORKTREE python benchmarks/fast_path_cpu.py --clip CLIP``
(it also runs on the flat layout before commit 73ff0f4, such as 4c6866f, the issue's baseline).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2

import rtretinex

# Told apart by the package's own folder: an import that fails in an older checkout would
# be found in an editable install's tree instead.
if (Path(rtretinex.__file__).parent / "frame").is_dir():
    from rtretinex.frame.enhancer import Enhancer
    from rtretinex.frame.settings import EnhanceSettings
    from rtretinex.nets.backends import get_spec
    from rtretinex.nets.weightfile import DEFAULT_WEIGHTS
    from rtretinex.video.frames import VideoFrame
    from rtretinex.video.sources import VideoSource
else:  # the flat layout of earlier versions
    from rtretinex.backends import get_spec
    from rtretinex.enhancer import Enhancer, EnhanceSettings
    from rtretinex.frames import VideoFrame
    from rtretinex.io import VideoSource
    from rtretinex.weightfile import DEFAULT_WEIGHTS

WARMUP = 10


class _TimedNets:
    """A backend that adds its calls' CPU time up."""

    def __init__(self, backend) -> None:
        self.backend, self.cpu_s, self.calls = backend, 0.0, 0

    def __getattr__(self, name: str):
        return getattr(self.backend, name)

    def __call__(self, *args, **kwargs):
        start = time.process_time()
        try:
            return self.backend(*args, **kwargs)
        finally:
            self.cpu_s += time.process_time() - start
            self.calls += 1


def measure(clip: Path, nets_every: int, backend_name: str) -> dict:
    """CPU ms a frame of the fast path on ``clip``'s frames: in all, the nets', the rest."""
    with VideoSource(str(clip)) as source:
        frames = [item for item in source if isinstance(item, VideoFrame)]
    nets = _TimedNets(get_spec(backend_name).create(DEFAULT_WEIGHTS, None))
    enhancer = Enhancer(nets, EnhanceSettings(mode="fast", nets_every=nets_every))
    for frame in frames[:WARMUP]:
        enhancer.enhance(frame)
    enhancer.reset()
    nets.cpu_s, nets.calls = 0.0, 0
    start = time.process_time()
    for frame in frames:
        enhancer.enhance(frame)
    total_ms = (time.process_time() - start) * 1e3 / len(frames)
    nets_ms = nets.cpu_s * 1e3 / len(frames)
    return {"clip": str(clip), "frames": len(frames), "nets_every": nets_every,
            "nets_runs": nets.calls, "cpu_ms": total_ms, "nets_cpu_ms": nets_ms,
            "without_nets_cpu_ms": total_ms - nets_ms, "opencv_threads": cv2.getNumThreads(),
            "code": str(Path(rtretinex.__file__).parent)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, help="video to run on (default: fps.py's 720p clip)")
    parser.add_argument("--nets-every", type=int, default=3)
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--opencv-threads", type=int, default=1,
                        help="OpenCV's threads (0: its default pool)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.opencv_threads > 0:
        cv2.setNumThreads(args.opencv_threads)
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip
        if clip is None:
            from rtretinex.bench import RENDERED
            from rtretinex.samples import write_dark_clip
            clip = write_dark_clip(Path(tmp) / "1280x720.mp4", 150, 1280, 720, audio=False,
                                   loop=RENDERED)
        result = measure(clip, args.nets_every, args.backend)
    print(f"{result['frames']} frames, nets on {result['nets_runs']}: {result['cpu_ms']:.2f} ms "
          f"CPU a frame, the nets {result['nets_cpu_ms']:.2f}, the rest "
          f"{result['without_nets_cpu_ms']:.2f} ({result['code']})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

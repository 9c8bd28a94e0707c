"""A night clip whose darks are coloured, made from any clip: the stand-ins for footage whose
blacks are not grey (a night graded blue, a purple-lit street, a dim room with magenta blacks
under greenish walls), which the real clips here do not have.

Each frame (yuv420p) optionally at ``--light`` of its light and with a grey ``--watermark``
burnt in; its chroma moved by ``--black`` (U, V codes) at black, fading linearly to
``--above`` at full-range luma ``--fade`` and beyond; written with libx264 (CRF 24, preset
medium) as a camera would. Enhance it and score it against itself::

    python benchmarks/graded_night.py ../shared/data/video/dark_street_822p.mp4 purple.mp4 \\
        --black 6 8 --fade 120
    rtretinex enhance purple.mp4 -o out.mp4 --max-frames 60 --nets-every 4
    python ../shared/tools/nightlook.py score purple.mp4 out.mp4 --frames 60

(the recipes of docs/history.md, 2026-12-07: blue road ``dark_dashcam_360p.mp4 --black 9 -1
--fade 120 --watermark "CAM-02  NIGHT"``; dim room ``clean_bedroom_540p.mp4 --light 0.25
--black 3 3 --above -2 -2 --fade 25``; teal bridge ``dark_bridge_720p.mp4 --black 5 -4
--fade 106``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import cv2
import numpy as np

Y_BLACK, Y_TO_FULL = 16.0, 255.0 / 219.0


def plane_array(plane: av.video.plane.VideoPlane) -> np.ndarray:
    return np.asarray(plane).reshape(plane.height, plane.line_size)[:, :plane.width]


def graded(frame: av.VideoFrame, args: argparse.Namespace) -> av.VideoFrame:
    """One frame with its light scaled, the watermark burnt in and its chroma graded."""
    if args.light != 1.0:
        rgb = np.rint(frame.to_ndarray(format="rgb24") * np.float32(args.light))
        frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
    y, u, v = (plane_array(p).astype(np.float32)
               for p in frame.reformat(format="yuv420p").planes)
    if args.watermark:
        luma = y.astype(np.uint8)
        cv2.putText(luma, args.watermark, (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 140, 2,
                    cv2.LINE_AA)
        y = luma.astype(np.float32)
    y_half = cv2.resize(y, (u.shape[1], u.shape[0]), interpolation=cv2.INTER_AREA)
    near_black = np.clip(1.0 - (y_half - Y_BLACK) * Y_TO_FULL / args.fade, 0.0, 1.0)
    u += args.above[0] + (args.black[0] - args.above[0]) * near_black
    v += args.above[1] + (args.black[1] - args.above[1]) * near_black
    out = av.VideoFrame(frame.width, frame.height, "yuv420p")
    for plane, values in zip(out.planes, (y, u, v), strict=True):
        buffer = np.zeros((plane.height, plane.line_size), np.uint8)
        buffer[:, :plane.width] = np.clip(np.rint(values), 0, 255)
        plane.update(buffer)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("--black", type=float, nargs=2, default=(0.0, 0.0), metavar=("U", "V"),
                   help="chroma added at black (codes)")
    p.add_argument("--above", type=float, nargs=2, default=(0.0, 0.0), metavar=("U", "V"),
                   help="chroma added from --fade up (codes)")
    p.add_argument("--fade", type=float, default=120.0,
                   help="full-range luma where --black has become --above (default 120)")
    p.add_argument("--light", type=float, default=1.0, help="share of the light kept")
    p.add_argument("--watermark", default="", help="grey text burnt in at the top left")
    p.add_argument("--frames", type=int, default=90, help="frames written (default 90)")
    args = p.parse_args(argv)
    if args.fade <= 0 or not 0 < args.light <= 1:
        p.error("--fade must be positive and --light in (0, 1]")
    with av.open(str(args.source)) as source, av.open(str(args.target), "w") as target:
        video = source.streams.video[0]
        stream = target.add_stream("libx264", rate=video.average_rate or 30)
        stream.width, stream.height = video.width - video.width % 2, video.height - video.height % 2
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "24", "preset": "medium"}
        for index, frame in enumerate(source.decode(video)):
            if index >= args.frames:
                break
            if frame.width != stream.width or frame.height != stream.height:
                frame = frame.reformat(width=stream.width, height=stream.height)
            for packet in stream.encode(graded(frame, args)):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    return 0


if __name__ == "__main__":
    sys.exit(main())

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rtretinex.samples import write_dark_clip

ROOT = Path(__file__).resolve().parents[1]


def test_video_benchmark_measures_a_night_clip_and_its_full_range_copy_alike(tmp_path):
    """``--full-range`` re-encodes each real dark clip as IP cameras send it; both copies
    take the same path, so their figures agree."""
    clip = write_dark_clip(tmp_path / "night.mp4", frames=8, width=192, height=108, audio=False,
                           camera=True)
    out = tmp_path / "vq.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "video_quality.py"), "--dark", str(clip),
         "--frames", "8", "--no-lit", "--full-range", "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = {(r["clip"], r["version"]): r for r in json.loads(out.read_text())["real_dark"]}
    assert set(rows) == {(c, v) for c in ("night.mp4", "night_full_range.mp4")
                         for v in ("gain", "clahe", 0)}
    limited, full = rows[("night.mp4", 0)], rows[("night_full_range.mp4", 0)]
    for row in (limited, full):  # how the night looks, beside the anchors
        assert row["newly_clipped"] <= 0.5 and row["luma_out"] > row["luma_in"]
        assert rows[(row["clip"], "clahe")]["luma_out"] < row["luma_out"]
    assert full["mean_luma"] > 2 * full["input"]["mean_luma"]
    assert abs(full["mean_luma"] - limited["mean_luma"]) < 3
    assert abs(full["shadow_chroma"] - limited["shadow_chroma"]) < 2


def test_video_benchmark_pans_over_a_bundled_photo(tmp_path):
    """``--pan`` adds a moving camera as a clean clip, scored against its own clean frames;
    a photo that is not bundled is refused in one line."""
    out = tmp_path / "vq.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "video_quality.py"), "--frames", "4",
               "--degrade", "sensor", "--no-lit", "--json", str(out)]
    result = subprocess.run([*command, "--pan", "astronaut"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    rows = {r["version"]: r for r in json.loads(out.read_text())["synthetic"]}
    assert rows[0]["clip"] == "pan_astronaut_720p.mp4" and rows[0]["size"] == "1280x720"
    assert rows[0]["mm_psnr"] > rows["gain"]["mm_psnr"] and rows[0]["mm_ssim"] > 0.5
    refused = subprocess.run([*command, "--pan", "nosuch"], capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode == 2 and "--pan takes bundled photos" in refused.stderr


def test_graded_night_colours_the_darks_and_fades_by_the_luma_asked(tmp_path):
    """``graded_night.py`` makes the coloured-darks stand-ins: its chroma moves by --black at
    black, by --above from --fade up, linearly between."""
    import av
    import numpy as np

    source = tmp_path / "ramp.mp4"
    with av.open(str(source), "w") as container:  # a grey ramp, luma 16-235, 4 frames
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 256, 64, "yuv420p"
        stream.options = {"crf": "0"}
        ramp = np.tile(np.linspace(0, 255, 256).astype(np.uint8), (64, 1))
        for _ in range(4):
            rgb = np.repeat(ramp[..., None], 3, axis=2)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    target = tmp_path / "graded.mp4"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "graded_night.py"), str(source), str(target),
         "--black", "8", "-6", "--above", "-2", "0", "--fade", "128", "--frames", "2"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with av.open(str(target)) as container:
        frames = [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]
    assert len(frames) == 2
    u = frames[0][64:80].reshape(32, 128).astype(np.float32) - 128  # U plane, 128 wide
    v = frames[0][80:96].reshape(32, 128).astype(np.float32) - 128
    assert abs(u[:, 0].mean() - 8.0) < 1.0  # at black
    assert abs(v[:, 0].mean() + 6.0) < 1.0
    assert abs(u[:, 100:].mean() + 2.0) < 1.0 and abs(v[:, 100:].mean()) < 1.0  # above
    assert abs(u[:, 32].mean() - 3.0) < 1.5  # luma 64: half way from --black to --above


def test_contour_sources_finds_an_edge_that_the_rgb_decode_of_magenta_blacks_hides(tmp_path):
    """``contour_sources.py``: a two-code edge in the darks of an input whose blacks are
    magenta (G below 0, clipped by the rgb24 decode) is flat to the metric's luma from RGB,
    not to the Y plane's; the output's rendering of it counts as a contour only the first
    way, beside a clipped channel."""
    import re

    import av
    import numpy as np

    def clip(path, y_left, y_right, chroma):
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
            stream.options = {"qp": "0"}  # lossless
            buffer = np.full((96, 128), chroma, np.uint8)
            buffer[:64, :64], buffer[:64, 64:] = y_left, y_right
            for _ in range(2):
                frame = av.VideoFrame.from_ndarray(buffer, format="yuv420p")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return path

    source = clip(tmp_path / "in.mp4", 17, 19, 131)
    output = clip(tmp_path / "out.mp4", 40, 80, 128)
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "contour_sources.py"), str(source),
         str(output), "--every", "1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rgb, planes, _, _, clipped = (float(n) for n in re.findall(r"(\d+\.\d+)", result.stdout))
    assert rgb == pytest.approx(100 / 128, rel=0.05)  # the edge's column
    assert planes == 0.0
    assert clipped == 1.0

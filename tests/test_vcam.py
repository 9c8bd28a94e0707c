"""--virtual-camera: the errors before any work, and the frames a v4l2loopback device would
get, through a stand-in device (tests/vcam_standin.py: FUSE + a private mount namespace)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from rtretinex import cli
from rtretinex.samples import write_dark_clip

from .test_cli import ROOT, assert_one_line_error, run

STANDIN = Path(__file__).with_name("vcam_standin.py")


def standin_missing() -> str | None:
    """Why the stand-in device cannot run here (None: it can)."""
    if not sys.platform.startswith("linux"):
        return "the stand-in device is Linux-only"
    if os.geteuid() != 0:
        return "mounting FUSE in a private mount namespace needs root"
    if not os.path.exists("/dev/fuse") or not shutil.which("unshare"):
        return "needs /dev/fuse and unshare"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True)
    return None if probe.returncode == 0 else "mount namespaces are not allowed here"


needs_standin = pytest.mark.skipif(standin_missing() is not None,
                                   reason=str(standin_missing()))


def through_standin(record: Path, *args: str, slow_ms: float = 0) -> subprocess.CompletedProcess:
    """run_stream.py ARGS with a stand-in v4l2loopback device at /dev/video7."""
    record.mkdir()
    command = ["unshare", "-m", "--propagation", "private", sys.executable, str(STANDIN),
               str(record), "/dev/video7", "--slow", str(slow_ms), "--",
               sys.executable, str(ROOT / "run_stream.py"), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def recorded_frames(record: Path) -> tuple[dict, np.ndarray]:
    device = json.loads((record / "device.json").read_text())
    fmt = device["format"]
    raw = np.frombuffer((record / "frames.raw").read_bytes(), np.uint8)
    return device, raw.reshape(-1, fmt["height"] * 3 // 2, fmt["width"])


@needs_standin
def test_virtual_camera_gets_what_a_file_transcode_gets(tmp_path):
    """The first free loopback device is found, set to I420 at the clip's size, fed at the
    clip's rate, and its frames are the ones a transcode of the clip writes to a file."""
    # 15 fps: slower than it can be enhanced (~30 fps here), so the pacing shows
    clip = write_dark_clip(tmp_path / "c.mp4", frames=30, width=160, height=96, fps=15)
    # the nets on every frame in both runs: the automatic interval follows the nets' timing
    stats = tmp_path / "s.json"
    result = through_standin(tmp_path / "rec", str(clip), "--virtual-camera",
                             "--nets-every", "1", "--stats-json", str(stats))
    assert result.returncode == 0, result.stderr
    device, frames = recorded_frames(tmp_path / "rec")
    assert device["querycap"] >= 1
    assert device["format"] == {"width": 160, "height": 96, "fourcc": "YU12",
                                "sizeimage": 160 * 96 * 3 // 2}
    run_stats = json.loads(stats.read_text())
    # a busy machine drops frames before the enhancer, as a camera's would be: all are counted
    assert run_stats["frames"] + run_stats["dropped"] == 30
    assert len(frames) >= run_stats["frames"] - 1
    # the same clip to a lossless file: its frames are the pipeline's own
    assert run(str(clip), "-o", str(tmp_path / "out.mkv"), "--crf", "0",
               "--nets-every", "1").returncode == 0
    with av.open(str(tmp_path / "out.mkv")) as c:
        transcoded = [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]
    errors = [[np.abs(f.astype(np.int16) - t).mean() for t in transcoded] for f in frames]
    matches = [int(np.argmin(e)) for e in errors]
    assert matches == sorted(set(matches))  # in order, none twice
    # a frame dropped before the enhancer (a busy machine) changes its temporal state from
    # there on: up to the first gap the frames are the transcode's own, after it the same pictures
    first_gap = next((i for i, m in enumerate(matches) if m != i), len(matches))
    assert max((min(e) for e in errors[:first_gap]), default=0.0) < 0.1
    assert max(min(e) for e in errors) < 3
    times = [t for t, _, _ in device["writes"]]
    rate = (matches[-1] - matches[0]) / (times[-1] - times[0])
    assert 12.5 <= rate <= 18  # the clip's 15 fps, not as fast as it decodes


@needs_standin
def test_a_slow_reader_does_not_hold_the_pipeline(tmp_path):
    """Writes that take 3 frame intervals: frames are dropped at the camera, the clip still
    plays in real time and every frame is enhanced."""
    clip = write_dark_clip(tmp_path / "c.mp4", frames=30, width=160, height=96)
    stats = tmp_path / "s.json"
    result = through_standin(tmp_path / "rec", str(clip), "--virtual-camera", "/dev/video7",
                             "--stats-json", str(stats), slow_ms=100)
    assert result.returncode == 0, result.stderr
    run_stats = json.loads(stats.read_text())
    assert run_stats["frames"] >= 28 and run_stats["seconds"] < 1.6  # as without the camera
    _, frames = recorded_frames(tmp_path / "rec")
    assert 5 <= len(frames) <= 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="v4l2loopback is Linux's")
@pytest.mark.parametrize("device,fragment", [
    ("/dev/video63", "no video device /dev/video63"),
    ("/dev/null", "cannot use /dev/null"),  # there, but not a loopback device
])
def test_no_device_is_one_line_with_how_to_make_one(tmp_path, device, fragment):
    clip = tmp_path / "not-read.mp4"  # the check comes before any work: no such input
    result = run(str(clip), "--virtual-camera", device)
    assert_one_line_error(result, 2, fragment)
    assert "modprobe v4l2loopback" in result.stderr and "exclusive_caps=1" in result.stderr


def test_on_windows_and_macos_a_missing_extra_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # import fails
    assert cli.main(["missing.mp4", "--virtual-camera"]) == 2
    assert "pip install 'rtretinex[vcam]'" in capsys.readouterr().err


def test_images_are_not_sent_to_a_camera(tmp_path):
    from rtretinex.images import write_image

    write_image(tmp_path / "d.png", np.zeros((8, 8, 3), np.uint8))
    assert_one_line_error(run(str(tmp_path / "d.png"), "--virtual-camera"), 2,
                          "--virtual-camera takes one video")

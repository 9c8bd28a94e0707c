"""The command as an installed tool: subcommands and --version, output to a pipe, streams
without usable timestamps, damaged files."""

import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rtretinex import __version__, cli
from rtretinex.samples import write_dark_clip
from rtretinex.video.sources import FrameClock

from .test_cli import ROOT, assert_one_line_error, run
from .test_vcam import needs_standin, recorded_frames, through_standin


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_dark_clip(tmp_path_factory.mktemp("tool") / "clip.mp4", frames=30, width=160,
                           height=96)


def test_version_on_every_subcommand():
    for command in ([], ["enhance"], ["bench"], ["export"]):
        result = run(*command, "--version")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"rtretinex {__version__} (torch ")


def test_python_dash_m_runs_the_command(clip, tmp_path):
    result = subprocess.run([sys.executable, "-m", "rtretinex", "--version"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith(f"rtretinex {__version__} ")
    missing = subprocess.run([sys.executable, "-m", "rtretinex", str(tmp_path / "none.mp4")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert_one_line_error(missing, 1, "input not found")


def test_enhance_subcommand_is_the_plain_command(clip, tmp_path):
    assert run("enhance", str(clip), "-o", str(tmp_path / "a.mp4"), "--max-frames", "3"
               ).returncode == 0
    with av.open(str(tmp_path / "a.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 3
    assert "rtretinex bench" in run("--help").stdout


def read_pipe(stream) -> tuple[str, list[tuple[int, Fraction]], int]:
    """(container, video timestamps, audio packets) of a stream read from a pipe, in one pass
    as a pipe reader must (no seeking back)."""
    video, audio = [], 0
    with av.open(stream, mode="r") as c:
        name = c.format.name
        for packet in c.demux():
            if packet.stream.type == "video":
                video += [(f.pts, f.time_base) for f in packet.decode()]
            elif packet.stream.type == "audio" and packet.size:
                audio += 1
    return name, video, audio


@pytest.mark.parametrize("extra, container", [([], "nut"), (["--format", "matroska"],
                                                             "matroska,webm")])
def test_output_to_a_pipe_keeps_every_frame_its_time_and_the_audio(clip, tmp_path, extra,
                                                                   container):
    writer = subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), str(clip), "-o", "-",
                               *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    name, video, audio = read_pipe(writer.stdout)  # read while it writes
    _, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err.decode()
    with av.open(str(clip)) as c:
        source = [float(f.pts * f.time_base) for f in c.decode(video=0)]
        source_audio = sum(1 for p in av.open(str(clip)).demux(audio=0) if p.size)
    assert name == container
    times = [float(pts * base) for pts, base in video]
    assert len(times) == len(source) == 30
    np.testing.assert_allclose(np.diff(times), np.diff(source), atol=2e-3)
    assert audio >= source_audio - 1
    assert "FPS" in err.decode()  # the summary went to standard error


def test_a_reader_that_closes_early_ends_the_run_with_one_line(tmp_path):
    long = write_dark_clip(tmp_path / "long.mp4", frames=150, width=320, height=180)
    writer = subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), str(long), "-o", "-"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writer.stdout.read(2000)
    writer.stdout.close()  # the consumer quits
    _, err = writer.communicate(timeout=300)
    result = subprocess.CompletedProcess([], writer.returncode, "", err.decode())
    assert_one_line_error(result, 1, "the reader of standard output closed it")


def test_pipe_errors_are_usage_errors(clip, tmp_path):
    assert_one_line_error(run(str(clip), "-o", "-", "--format", "nosuch"), 2,
                          "unknown container 'nosuch'")
    assert_one_line_error(run(str(clip), "-o", str(tmp_path / "x.mp4"), "--format", "nut"), 2,
                          "--format names the container of -o -")


def write_stamped(path: Path, frames: int, rate: int, stamps: str) -> Path:
    """A clip whose video packets carry no timestamps (``stamps`` "none": raw H.264) or all
    the same one ("zero": every pts 0, in Matroska)."""
    raw = path.with_suffix(".h264") if stamps == "zero" else path
    with av.open(str(raw), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(frames):
            image = np.full((96, 160, 3), 20 + i % 40, np.uint8)
            image[:, (2 * i) % 160] = 200  # a moving line: frames differ
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    if stamps == "zero":
        with av.open(str(raw)) as source, av.open(str(path), "w") as out:
            copy = out.add_stream_from_template(source.streams.video[0])
            for packet in source.demux(video=0):
                if packet.size:
                    packet.stream, packet.pts, packet.dts = copy, 0, 0
                    out.mux(packet)
    return path


def test_frame_clock_keeps_good_stamps_and_makes_up_the_rest():
    clock = FrameClock(25.0, Fraction(1, 1000))
    stamps = [clock.stamp(pts, Fraction(1, 1000))[0] for pts in (0, 40, 40, 40, 200, None)]
    assert stamps == [0, 40, 80, 120, 200, 240] and clock.made_up
    clock = FrameClock(30.0, Fraction(1, 90_000))
    assert [clock.stamp(None, None)[0] for _ in range(3)] == [0, 3000, 6000]


@pytest.mark.parametrize("stamps", ["zero", "none"])
def test_a_clip_without_timestamps_transcodes_at_its_nominal_rate(tmp_path, stamps):
    source = write_stamped(tmp_path / ("in.mkv" if stamps == "zero" else "in.h264"), 90, 25,
                           stamps)
    result = run(str(source), "-o", str(tmp_path / "out.mp4"))
    assert result.returncode == 0, result.stderr
    assert "timed at its nominal 25 fps" in result.stderr
    with av.open(str(tmp_path / "out.mp4")) as c:
        times = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    assert len(times) == 90
    np.testing.assert_allclose(np.diff(times), 1 / 25, atol=1e-3)


@needs_standin
def test_a_clip_with_every_pts_zero_reaches_the_virtual_camera(tmp_path):
    source = write_stamped(tmp_path / "zero.mkv", 90, 30, "zero")
    result = through_standin(tmp_path / "rec", str(source), "--virtual-camera")
    assert result.returncode == 0, result.stderr
    device, frames = recorded_frames(tmp_path / "rec")
    assert len(frames) >= 81  # ≥ 90 %: it played 1 and dropped 89 before
    times = [t for t, _, _ in device["writes"]]
    assert 25 <= (len(times) - 1) / (times[-1] - times[0]) <= 36


def damaged_variants(clip: Path, count: int, seed: int = 7) -> list[bytes]:
    """Seeded damaged copies of ``clip``: bytes flipped, cut short, a header chunk
    overwritten."""
    data = clip.read_bytes()
    rng = random.Random(seed)
    variants = []
    for k in range(count):
        damaged = bytearray(data)
        kind = k % 3
        if kind == 0:
            for _ in range(rng.randint(1, 40)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        elif kind == 1:
            damaged = damaged[:rng.randrange(64, len(damaged))]
        else:
            start = rng.randrange(0, min(4096, len(damaged) - 64))
            damaged[start:start + rng.randint(8, 64)] = rng.randbytes(64)[:rng.randint(8, 64)]
        variants.append(bytes(damaged))
    return variants


@pytest.mark.slow
def test_damaged_files_end_in_a_playable_output_or_one_line_error(tmp_path, capsys):
    clip = write_dark_clip(tmp_path / "small.mp4", frames=12, width=96, height=64)
    outcomes = []
    for k, data in enumerate(damaged_variants(clip, 36)):
        source, target = tmp_path / f"v{k}.mp4", tmp_path / f"out{k}.mp4"
        source.write_bytes(data)
        code = cli.main([str(source), "-o", str(target), "--nets-every", "1"])
        err = capsys.readouterr().err
        assert "unexpected" not in err and "Traceback" not in err, (k, err)
        assert code in (0, 1), (k, code, err)
        if code == 0:
            with av.open(str(target)) as c:
                assert sum(1 for _ in c.decode(video=0)) >= 1, k
        else:
            assert not target.exists(), k
            assert "error: " in err, k
        outcomes.append(code)
    assert 0 in outcomes and 1 in outcomes  # the variants do both


def test_a_file_of_which_no_frame_decodes_is_an_error(tmp_path):
    """A video stream without a packet (the header promises one; only audio follows)."""
    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=48_000)
        sound.layout = "mono"
        for start in range(0, 48_000, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt",
                                               layout="mono")
            frame.sample_rate, frame.pts = 48_000, start
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    target = tmp_path / "out.mp4"
    assert_one_line_error(run(str(path), "-o", str(target)), 1, "no video frame could be decoded")
    assert not target.exists()

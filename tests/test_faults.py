"""Faults a demanding user meets: signals, a silent server, pipes, damaged or changing
input, bad output places. Each checks the exit code, one error line where it fails, and
that the target is playable or untouched with no temporary file left."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction

import av
import numpy as np
import pytest

from rtretinex.samples import write_dark_clip

from .conftest import interruptible
from .test_cli import ROOT, assert_one_line_error, run
from .test_cli_video import video_info


def no_temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def start(*args):
    return subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), *args],
                            stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)


def wait_for_temp_file(folder, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if any(p.name.startswith(".out") for p in folder.iterdir()):
            return
        time.sleep(0.1)
    pytest.fail("the run never started writing")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    return write_dark_clip(tmp_path_factory.mktemp("long") / "long.mp4", frames=400,
                           width=320, height=180)


@pytest.mark.parametrize("signum,code,message", [
    (signal.SIGTERM, 143, "stopped by SIGTERM"),
    (signal.SIGHUP, 129, "stopped by SIGHUP"),
])
def test_sigterm_and_sighup_keep_the_frames_done(long_clip, tmp_path, signum, code, message):
    out = tmp_path / "out.mp4"
    proc = start(str(long_clip), "-o", str(out), "--mode", "quality", "--backend", "torch-cpu")
    wait_for_temp_file(tmp_path, proc)
    time.sleep(2)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert message in stderr and "Traceback" not in stderr
    assert 0 < len(video_info(out)[0]) < 400
    assert no_temp_files(tmp_path)


def test_a_second_ctrl_c_while_finishing_leaves_nothing_broken(long_clip, tmp_path):
    out = tmp_path / "out.mp4"
    proc = start(str(long_clip), "-o", str(out), "--mode", "quality", "--backend", "torch-cpu")
    wait_for_temp_file(tmp_path, proc)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    # 130 from the run, or SIGINT itself when the second Ctrl-C lands after the run ended:
    # a shell shows 130 for both
    assert proc.returncode in (130, -signal.SIGINT), stderr
    assert "Traceback" not in stderr and "terminate called" not in stderr
    if out.exists():  # either the frames done, playable, or nothing
        assert 0 < len(video_info(out)[0]) < 400
    assert no_temp_files(tmp_path)


def test_a_silent_server_times_out_with_one_line(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        begin = time.monotonic()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/clip.mp4"
        result = run(url, "-o", str(tmp_path / "out.mp4"), "--timeout", "1")
        assert time.monotonic() - begin < 60
        assert_one_line_error(result, 1, "cannot open video")
        assert not (tmp_path / "out.mp4").exists() and no_temp_files(tmp_path)
    finally:
        server.close()


@pytest.fixture(scope="module")
def mkv_clip(tmp_path_factory):
    return write_dark_clip(tmp_path_factory.mktemp("mkv") / "clip.mkv", frames=12, width=96,
                           height=64)


def test_standard_input(mkv_clip, tmp_path):
    out = tmp_path / "out.mp4"
    result = subprocess.run([sys.executable, str(ROOT / "run_stream.py"), "-", "-o", str(out)],
                            input=mkv_clip.read_bytes(), capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    assert len(video_info(out)[0]) == 12


def test_named_pipe(mkv_clip, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as pipe:
            pipe.write(mkv_clip.read_bytes())

    threading.Thread(target=feed, daemon=True).start()
    out = tmp_path / "out.mp4"
    result = run(str(fifo), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert len(video_info(out)[0]) == 12


def test_a_damaged_stretch_is_skipped_and_reported(tmp_path):
    clip = write_dark_clip(tmp_path / "c.mp4", frames=120, width=160, height=96, audio=False)
    data = bytearray(clip.read_bytes())
    middle, span = len(data) // 2, len(data) // 20
    data[middle:middle + span] = np.random.default_rng(0).integers(0, 256, span,
                                                                   np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    result = run(str(damaged), "-o", str(out))
    assert result.returncode == 0, result.stderr
    frames = len(video_info(out)[0])
    assert frames >= 100
    if frames < 120:  # the user is told what was lost
        assert "damaged" in result.stderr or "decoding stopped" in result.stderr


def test_stats_json_into_a_missing_folder_fails_before_any_work(mkv_clip, tmp_path):
    out = tmp_path / "out.mp4"
    result = run(str(mkv_clip), "-o", str(out), "--stats-json", str(tmp_path / "no" / "s.json"))
    assert_one_line_error(result, 1, "--stats-json folder does not exist")
    assert not out.exists()


def test_a_second_video_stream_is_reported(tmp_path):
    two = tmp_path / "two.mkv"
    with av.open(str(two), "w") as c:
        streams = []
        for _ in range(2):
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            streams.append(s)
        for i in range(5):
            for s in streams:
                f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30, np.uint8), "rgb24")
                f.pts, f.time_base = i, Fraction(1, 25)
                c.mux(s.encode(f))
        for s in streams:
            c.mux(s.encode(None))
    result = run(str(two), "-o", str(tmp_path / "out.mp4"))
    assert result.returncode == 0, result.stderr
    assert "2 video streams" in result.stderr.replace("\n", " ")


def test_a_resolution_change_is_scaled_and_reported(tmp_path):
    parts = []
    for i, (w, h) in enumerate(((96, 64), (160, 96))):
        part = tmp_path / f"p{i}.ts"
        with av.open(str(part), "w") as c:
            s = c.add_stream("mpeg2video", rate=25)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            for k in range(6):
                f = av.VideoFrame.from_ndarray(np.full((h, w, 3), 40, np.uint8), "rgb24")
                f.pts, f.time_base = k + 6 * i, Fraction(1, 25)
                c.mux(s.encode(f))
            c.mux(s.encode(None))
        parts.append(part.read_bytes())
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(parts))
    out = tmp_path / "out.mp4"
    result = run(str(joined), "-o", str(out))
    assert result.returncode == 0, result.stderr
    _, _, w, h = video_info(out)
    assert (w, h) == (96, 64)
    assert "changes size" in result.stderr


def test_markup_characters_in_the_input_name(mkv_clip, tmp_path):
    odd = tmp_path / "[bold red]night.mkv"
    odd.write_bytes(mkv_clip.read_bytes())
    result = run(str(odd), "-o", str(tmp_path / "out.mp4"))
    assert result.returncode == 0, result.stderr
    assert "[bold red]night" in result.stderr.replace("\n", "")


def test_sigterm_in_a_folder_run_keeps_the_finished_files(long_clip, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    write_dark_clip(folder / "a.mkv", frames=6, width=96, height=64, audio=False)
    (folder / "b.mp4").symlink_to(long_clip)
    proc = start(str(folder), "-o", str(out), "--mode", "quality", "--backend", "torch-cpu")
    deadline = time.time() + 120
    while time.time() < deadline and not (out.is_dir() and any(
            p.name.startswith(".b") for p in out.iterdir())):
        time.sleep(0.1)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1].startswith("error: stopped by SIGTERM")
    assert len(video_info(out / "a.mkv")[0]) == 6  # finished before: kept
    assert not (out / "b.mp4").exists() and no_temp_files(out)  # redone by the next run


def limited_file_size(max_bytes):
    """A preexec_fn that makes every file the child writes fail past ``max_bytes`` (EFBIG),
    as a full disk would, without privileges."""
    import resource

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


@pytest.mark.parametrize("kind", ["video", "image"])
def test_a_full_disk_leaves_the_old_target_and_no_temp_file(long_clip, tmp_path, kind):
    if kind == "video":
        source, out = long_clip, tmp_path / "out.mp4"
    else:
        from rtretinex.images import write_image
        from rtretinex.training.data import simulate_low_light

        from .conftest import small_photo

        source, out = tmp_path / "dark.png", tmp_path / "out.png"
        write_image(source, simulate_low_light(small_photo(height=240, width=320)))
    out.write_bytes(b"the user's earlier file")
    result = subprocess.run([sys.executable, str(ROOT / "run_stream.py"), str(source), "-o",
                             str(out), "-y"], capture_output=True, text=True, timeout=300,
                            preexec_fn=limited_file_size(40_000))
    assert_one_line_error(result, 1, str(out.name))
    assert out.read_bytes() == b"the user's earlier file"
    assert no_temp_files(tmp_path)


@pytest.fixture
def small_mount(tmp_path):
    """A mount point for a tmpfs (root only; skipped where mounting is not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "mnt"
    point.mkdir()
    mounted = []

    def mount(options):
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for p in mounted:
        subprocess.run(["umount", str(p)], capture_output=True)


def test_a_tiny_tmpfs_that_fills_up(long_clip, small_mount):
    disk = small_mount("size=256k")
    result = run(str(long_clip), "-o", str(disk / "out.mp4"))
    assert_one_line_error(result, 1, "out.mp4")
    assert list(disk.iterdir()) == []


def test_a_read_only_output_filesystem(long_clip, small_mount, tmp_path):
    disk = small_mount("ro,size=256k")
    for source, name in ((long_clip, "out.mp4"), (ROOT / "docs" / "before_after.png",
                                                  "out.png")):
        assert_one_line_error(run(str(source), "-o", str(disk / name)), 1, "read-only")


def test_two_runs_writing_one_output_both_leave_a_complete_file(mkv_clip, tmp_path):
    out = tmp_path / "out.mp4"
    runs = [start(str(mkv_clip), "-o", str(out), "-y") for _ in range(2)]
    for proc in runs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
    assert len(video_info(out)[0]) == 12
    assert no_temp_files(tmp_path)


def test_a_stream_that_stops_half_way_does_not_hang(tmp_path):
    """An http server sends half of a stream and then nothing: the run ends within the
    timeout, keeping the frames it got, without a traceback."""
    clip = write_dark_clip(tmp_path / "clip.ts", frames=120, width=160, height=96)
    data = clip.read_bytes()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n"
                     + data[:len(data) // 2])
        time.sleep(60)  # and then silence, connection open
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    out = tmp_path / "out.mp4"
    try:
        begin = time.monotonic()
        result = run(f"http://127.0.0.1:{server.getsockname()[1]}/clip.ts", "-o", str(out),
                     "--timeout", "2")
        assert time.monotonic() - begin < 50
    finally:
        server.close()
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        assert 0 < len(video_info(out)[0]) < 120
        assert "decoding stopped" in result.stderr
    else:
        assert_one_line_error(result, 1, "")
        assert not out.exists()
    assert no_temp_files(tmp_path)


def test_out_of_memory_is_one_line(tmp_path, monkeypatch, capsys):
    from rtretinex import cli
    from rtretinex.frame.enhancer import Enhancer

    def exhausted(self, image):
        raise MemoryError

    image = ROOT / "docs" / "before_after.png"
    monkeypatch.setattr(Enhancer, "__call__", exhausted)
    assert cli.main([str(image), "-o", str(tmp_path / "out.png")]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: out of memory")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_with_clashing_names_is_refused_before_any_work(tmp_path):
    from rtretinex.images import write_image

    from .conftest import small_photo

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    write_image(folder / "shot.jpg", small_photo(height=48, width=64))
    write_image(folder / "shot.png", small_photo(height=48, width=64))
    assert_one_line_error(run(str(folder), "-o", str(out)), 2, "would both be written")
    assert not out.exists() or list(out.iterdir()) == []


def test_a_folder_with_an_unreadable_image_says_so_in_one_error_line(tmp_path):
    from rtretinex.images import write_image

    from .conftest import small_photo

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    write_image(folder / "good.png", small_photo(height=48, width=64))
    (folder / "bad.png").write_bytes(b"not a png")
    result = run(str(folder), "-o", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "error: 1 of 2 images could not be read"
    assert "bad.png" in result.stderr
    assert [p.name for p in out.iterdir()] == ["good.png"]


def test_a_tag_that_is_not_utf8_does_not_fail_the_file(tmp_path):
    """A damaged header's text tag (here the muxer's 'Lavf…' with a byte flipped) is read
    with the bad byte replaced: the video is there, and PyAV's strict default would fail
    the whole file with an "unexpected" error."""
    clip = write_dark_clip(tmp_path / "clip.mp4", frames=6, width=96, height=64, audio=False)
    data = bytearray(clip.read_bytes())
    at = data.index(b"Lavf")
    data[at + 1] = 0xB6  # not a UTF-8 start byte
    damaged, out = tmp_path / "damaged.mp4", tmp_path / "out.mp4"
    damaged.write_bytes(bytes(data))
    result = run(str(damaged), "-o", str(out))
    assert result.returncode == 0, result.stderr
    times, *_ = video_info(out)
    assert len(times) == 6

"""Sources and sinks on synthetic clips written with PyAV."""

import time
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from rtretinex.errors import InputError, UsageError
from rtretinex.samples import write_dark_clip
from rtretinex.video import sources
from rtretinex.video.frames import VideoFrame
from rtretinex.video.sinks import FileSink, mov_text_sample
from rtretinex.video.sources import VideoSource, is_plain_yuv420p, open_source

from .conftest import write_flat_clip


def test_source_yields_frames_and_audio_packets(tmp_path):
    clip = write_dark_clip(tmp_path / "c.mp4", frames=12, width=160, height=90)
    with open_source(str(clip)) as source:
        items = list(source)
        packet_types = {i.stream.type for i in items if not isinstance(i, VideoFrame)}
    frames = [i for i in items if isinstance(i, VideoFrame)]
    # H.264 decodes to yuv420p, which stays YUV (the planes of one buffer)
    assert len(frames) == 12 and frames[0].pixel_format == "yuv420p"
    assert frames[0].image.shape == (135, 160)
    assert packet_types == {"audio"}
    assert source.fps == pytest.approx(30) and (source.width, source.height) == (160, 90)


def test_the_camera_like_clip_is_written_as_night_cameras_write_video(tmp_path):
    """Smaller than the sensor-noise clip (the camera's noise reduction, CRF 28), with the
    black level's chroma bias: what ``benchmarks/fps.py --source camera`` decodes."""
    sensor = write_dark_clip(tmp_path / "s.mp4", frames=10, width=320, height=180, audio=False)
    camera = write_dark_clip(tmp_path / "c.mp4", frames=10, width=320, height=180, audio=False,
                             camera=True)
    assert camera.stat().st_size < sensor.stat().st_size / 4
    with open_source(str(camera)) as source:
        frames = [f.image for f in source if isinstance(f, VideoFrame)]
    assert len(frames) == 10
    y, chroma = frames[0][:180], frames[0][180:]
    assert y.mean() < 60 and chroma.mean() > 128.5  # dark, black level a code above grey
    with pytest.raises(ValueError, match="even sides"):
        write_dark_clip(tmp_path / "odd.mp4", frames=2, width=65, height=48, camera=True)


@pytest.mark.parametrize(("codec", "pix_fmt"), [("libx264", "yuvj420p"), ("libx264", "yuv422p"),
                                             ("libx265", "yuv420p10le")])
def test_other_layouts_come_as_limited_range_yuv420p(tmp_path, codec, pix_fmt):
    """Full range (IP cameras, MJPEG), 4:2:2 and 10-bit reach the fast YUV path, scaled to
    the limited range: grey level L decodes to Y = 16 + L · 219/255, U = V = 128."""
    path = write_flat_clip(tmp_path / "c.mkv", codec, 64, 48, pix_fmt)
    with open_source(str(path)) as source:
        frames = [i for i in source if isinstance(i, VideoFrame)]
    assert [f.pixel_format for f in frames] == ["yuv420p"] * 3
    for frame, level in zip(frames, (30, 40, 50)):
        assert frame.image.shape == (72, 64)
        assert abs(frame.image[:48].mean() - (16 + level * 219 / 255)) < 1.5
        assert abs(frame.image[48:].mean() - 128) < 1


def test_odd_sized_frames_come_as_rgb(tmp_path):
    path = write_flat_clip(tmp_path / "odd.mkv", "ffv1", 63, 47, "yuv420p")
    with open_source(str(path)) as source:
        frames = [i for i in source if isinstance(i, VideoFrame)]
    assert [f.pixel_format for f in frames] == ["rgb24"] * 3
    assert frames[0].image.shape == (47, 63, 3)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU here may have NVDEC")
def test_a_hardware_decoder_that_cannot_open_leaves_software_decoding_and_a_note(tmp_path):
    clip = write_dark_clip(tmp_path / "c.mp4", frames=8, width=64, height=48, audio=True)
    hardware, software = VideoSource(str(clip), hwaccel="cuda"), VideoSource(str(clip))
    assert hardware.hwaccel is None
    assert any("decoding in software: no cuda video decoder" in w for w in hardware.warnings)
    frames = [[f.image for f in source if isinstance(f, VideoFrame)]
              for source in (hardware, software)]
    assert len(frames[0]) == 8 and all(np.array_equal(a, b) for a, b in zip(*frames))
    with pytest.raises(InputError, match="cannot open video"):
        VideoSource(str(tmp_path / "none.mp4"), hwaccel="cuda")


def test_hardware_decoding_waits_for_a_pyav_that_converts_its_frames(tmp_path, monkeypatch):
    clip = write_dark_clip(tmp_path / "c.mp4", frames=2, width=64, height=48, audio=False)
    monkeypatch.setattr(sources, "_AV_VERSION", (17, 1))
    source = VideoSource(str(clip), hwaccel="cuda")
    assert source.hwaccel is None
    assert any("cuda decoding needs PyAV 18.0 or newer" in w for w in source.warnings)


def test_nv12_frames_count_as_plain_yuv420p():
    """What a hardware decoder hands back (NV12) stays in the YUV path."""
    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="nv12")
    assert is_plain_yuv420p(frame)
    assert np.array_equal(frame.to_ndarray(format="yuv420p"),
                          frame.reformat(format="yuv420p").to_ndarray())


def test_open_source_routes_and_rejects(tmp_path):
    with pytest.raises(InputError, match="no webcam at index 9"):
        open_source("9")
    with pytest.raises(InputError, match="no webcam at index 7"):
        open_source("/dev/video7")
    with pytest.raises(InputError, match="input not found"):
        open_source(str(tmp_path / "none.mp4"))
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        open_source(str(tmp_path / "empty.mp4"))
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 50)
    with pytest.raises(InputError, match="cannot open video"):
        open_source(str(tmp_path / "text.mp4"))
    with pytest.raises(UsageError, match="folder"):
        open_source(str(tmp_path))


def test_sink_keeps_variable_frame_rate_timestamps(tmp_path):
    src = tmp_path / "vfr.mkv"
    stamps = [0, 1, 3, 4, 9, 10, 17]  # in 1/30 s: irregular gaps
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 30)
        for t in stamps:
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40, np.uint8), format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 30)
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    out = tmp_path / "out.mp4"
    with VideoSource(str(src)) as source:
        sink = FileSink(out, source)
        for item in source:
            sink.write(item)
        sink.close()
    assert read_times(out) == pytest.approx(read_times(src), abs=1e-3)
    assert read_times(out) == pytest.approx([t / 30 for t in stamps], abs=1e-3)


def read_times(path):
    with av.open(str(path)) as c:
        return sorted(float(f.time) for f in c.decode(video=0))


def test_sink_leaves_nothing_when_not_kept(tmp_path):
    clip = write_dark_clip(tmp_path / "c.mp4", frames=3, width=64, height=48, audio=False)
    out = tmp_path / "o.mp4"
    with VideoSource(str(clip)) as source:
        sink = FileSink(out, source)
        for item in source:
            sink.write(item)
        sink.close(keep=False)
    assert list(tmp_path.iterdir()) == [clip]


def test_a_failure_while_finishing_never_reaches_the_target(tmp_path):
    """A disk that fills up while the trailer/index is written: the existing target stays
    as it was, no temporary file is left, and the error is one OutputError."""
    import errno

    from rtretinex.errors import OutputError

    clip = write_dark_clip(tmp_path / "c.mp4", frames=3, width=64, height=48, audio=False)
    out = tmp_path / "o.mp4"
    out.write_bytes(b"the user's earlier file")

    class FullDisk:
        def __init__(self, container):
            self.container = container

        def mux(self, packets):
            return self.container.mux(packets)

        def close(self):
            self.container.close()
            raise OSError(errno.ENOSPC, "No space left on device")

    with VideoSource(str(clip)) as source:
        sink = FileSink(out, source)
        for item in source:
            sink.write(item)
        sink.container = FullDisk(sink.container)
        with pytest.raises(OutputError, match="No space left"):
            sink.close()
    assert out.read_bytes() == b"the user's earlier file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "o.mp4"]


def test_two_writers_of_one_target_never_share_a_temporary_file(tmp_path):
    from rtretinex.atomic import AtomicFile

    first, second = AtomicFile(tmp_path / "x.mp4"), AtomicFile(tmp_path / "x.mp4")
    assert first.tmp != second.tmp and first.tmp.parent == tmp_path
    first.tmp.write_bytes(b"1")
    second.tmp.write_bytes(b"2")
    second.commit()
    first.discard()
    assert (tmp_path / "x.mp4").read_bytes() == b"2" and len(list(tmp_path.iterdir())) == 1


def test_paced_source_plays_a_file_in_real_time(tmp_path):
    from rtretinex.video.sources import PacedSource

    clip = write_dark_clip(tmp_path / "c.mp4", frames=12, width=64, height=48, fps=30)
    with PacedSource(VideoSource(str(clip))) as source:
        assert source.live
        start = time.monotonic()
        frames = [item for item in source]
        elapsed = time.monotonic() - start
    assert len(frames) == 12 and all(isinstance(f, VideoFrame) for f in frames)  # video only
    assert elapsed >= 11 / 30 - 0.02  # the last frame is due 11/30 s after the first


def test_a_killed_writer_leaves_a_temporary_file_the_next_writer_removes(tmp_path):
    """A writer killed outright cannot clean up; the next writer of the same target removes
    the abandoned temporary file, but never one a live writer holds."""
    import multiprocessing

    from rtretinex.atomic import AtomicFile

    target = tmp_path / "out.mp4"
    live = AtomicFile(target)
    context = multiprocessing.get_context("spawn")
    dead = context.Process(target=_hold_a_temporary_file_and_die, args=(str(target),))
    dead.start()
    dead.join(timeout=60)
    abandoned = [p for p in tmp_path.iterdir() if p != live.tmp]
    assert len(abandoned) == 1
    later = AtomicFile(target)
    assert sorted(tmp_path.iterdir()) == sorted([live.tmp, later.tmp])
    live.discard()
    later.discard()
    assert list(tmp_path.iterdir()) == []


def _hold_a_temporary_file_and_die(target: str) -> None:
    import os

    from rtretinex.atomic import AtomicFile

    AtomicFile(target).tmp.write_bytes(b"half a video")
    os._exit(9)  # as SIGKILL would: no clean-up


@pytest.mark.parametrize(("codec", "pix_fmt", "width", "tagged"),
                         [("libx265", "yuv420p10le", 64, True), ("ffv1", "yuv444p10le", 63, False)])
def test_the_output_keeps_the_sources_colour_tags_where_it_keeps_its_yuv(tmp_path, codec, pix_fmt,
                                                                         width, tagged):
    """An HDR (HLG, BT.2020) phone clip stays HLG: the YUV values pass through in the
    source's colours, so the output says which; RGB frames (odd sizes) are written untagged."""
    src = tmp_path / "hlg.mkv"
    tags = {"color_primaries": 9, "color_trc": 18, "colorspace": 9}  # BT.2020, HLG
    with av.open(str(src), "w") as c:
        s = c.add_stream(codec, rate=30)
        s.width, s.height, s.pix_fmt = width, 48, pix_fmt
        if codec == "libx265":
            s.options = {"x265-params": "log-level=error"}
        for name, value in tags.items():
            setattr(s.codec_context, name, value)
        for _ in range(3):
            image = np.full((48, width, 3), 40, np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        c.mux(s.encode(None))
    out = tmp_path / "out.mp4"
    with VideoSource(str(src)) as source:
        assert dict(source.colour_tags) == tags
        sink = FileSink(out, source)
        for item in source:
            sink.write(item)
        sink.close()
    with av.open(str(out)) as c:
        ctx = c.streams.video[0].codec_context
        written = {name: getattr(ctx, name) for name in tags}
    assert written == (tags if tagged else dict.fromkeys(tags, 2))


def test_a_mov_text_cue_is_cut_at_its_length_fields_limit_between_characters():
    """mov_text says a cue's length in 16 bits: a longer cue is cut to 65535 bytes, never
    inside a character (a cut UTF-8 sequence would not decode)."""
    assert mov_text_sample("Grüße".encode()) == b"\x00\x07" + "Grüße".encode()
    long = ("é" * 40000).encode()  # two bytes each: byte 65535 is inside an é
    sample = mov_text_sample(long)
    length = int.from_bytes(sample[:2], "big")
    assert length == 65534 and len(sample) == 2 + length
    assert sample[2:].decode() == "é" * 32767
    assert mov_text_sample(b"x" * 70000)[:2] == b"\xff\xff"  # ASCII: cut at the limit

"""run_stream.py on videos: transcode contract, stream copy, faults (exit codes, one line)."""

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from rtretinex.samples import write_dark_clip
from rtretinex.video.sinks import X264_CHROMA_QP_OFFSET

from .conftest import interruptible, write_flat_clip
from .test_cli import ROOT, assert_one_line_error, run


def audio_packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(audio=0) if p.size]


def timed_packets(path, kind):
    """(time in seconds, payload) of every packet of the first ``kind`` stream."""
    with av.open(str(path)) as c:
        stream = next(s for s in c.streams if s.type == kind)
        return [(round(float(p.pts * p.time_base), 3), bytes(p))
                for p in c.demux(stream) if p.size and p.pts is not None]


def with_subtitles(video, target):
    """``video`` remuxed with a two-cue SRT subtitle stream (PyAV cannot encode subtitles,
    but it can demux an .srt file and copy its packets)."""
    srt = target.with_suffix(".srt")
    srt.write_text("1\n00:00:00,100 --> 00:00:00,300\nhello\n\n"
                   "2\n00:00:00,500 --> 00:00:00,700\nworld\n")
    with av.open(str(video)) as vin, av.open(str(srt)) as sin, av.open(str(target), "w") as out:
        streams = {s: out.add_stream_from_template(s) for s in [*vin.streams, *sin.streams]}
        for container in (vin, sin):
            for packet in container.demux():
                if packet.dts is not None:
                    packet.stream = streams[packet.stream]
                    out.mux(packet)
    return target


def with_audio_late(video, target, lag=1.0):
    """``video`` remuxed with its audio packets ``lag`` seconds behind its video in the file
    (as an MP4 writer's chunks put them), the muxer told not to interleave them back."""
    with av.open(str(video)) as vin, av.open(str(target), "w",
                                            options={"max_interleave_delta": "1"}) as out:
        streams = {s: out.add_stream_from_template(s) for s in vin.streams}
        packets = [p for p in vin.demux() if p.dts is not None]
        at = {id(p): float(p.dts * p.time_base) + (lag if p.stream.type == "audio" else 0)
              for p in packets}
        for packet in sorted(packets, key=lambda p: at[id(p)]):
            packet.stream = streams[packet.stream]
            out.mux(packet)
    return target


def video_info(path):
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
        return [float(f.time) for f in frames], np.mean([f.to_ndarray(format="rgb24").mean()
                                                          for f in frames]), frames[0].width, \
            frames[0].height


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_dark_clip(tmp_path_factory.mktemp("clip") / "dark.mp4", frames=24, width=160,
                           height=96)


def test_transcode_keeps_frames_timestamps_and_audio(clip, tmp_path):
    out, stats = tmp_path / "bright.mp4", tmp_path / "stats.json"
    before = clip.read_bytes()
    result = run(str(clip), "-o", str(out), "--stats-json", str(stats), "--preset", "ultrafast")
    assert result.returncode == 0, result.stderr
    times_in, mean_in, w, h = video_info(clip)
    times_out, mean_out, w2, h2 = video_info(out)
    assert times_out == pytest.approx(times_in, abs=1e-3) and (w, h) == (w2, h2)
    assert mean_out > 1.8 * mean_in
    assert audio_packets(out) == audio_packets(clip) and audio_packets(clip)
    report = json.loads(stats.read_text())
    assert report["frames"] == 24 and report["dropped"] == 0 and report["fps"] > 0
    assert {"decode", "enhance", "encode"} <= report["stages"].keys()
    assert all({"ms_median", "ms_p95"} <= s.keys() for s in report["stages"].values())
    assert clip.read_bytes() == before
    # x264 writes its settings into the stream: the finer chroma reached it
    assert f"chroma_qp_offset={X264_CHROMA_QP_OFFSET} ".encode() in out.read_bytes()


def test_audio_and_subtitles_keep_their_timestamps(clip, tmp_path):
    source = with_subtitles(clip, tmp_path / "subs.mkv")
    out = tmp_path / "out.mkv"
    result = run(str(source), "-o", str(out), "--preset", "ultrafast")
    assert result.returncode == 0, result.stderr
    for kind in ("audio", "subtitle"):
        assert timed_packets(out, kind) == timed_packets(source, kind)
    cues = [t for t, _ in timed_packets(out, "subtitle")]
    assert len(cues) == 2 and cues[1] - cues[0] == pytest.approx(0.4)


def cues(path):
    """(time in seconds, text) of every cue of the first subtitle stream, and its codec."""
    with av.open(str(path)) as c:
        stream = c.streams.subtitles[0]
        timed = [(round(float(p.pts * p.time_base), 3), b"\n".join(s.dialogue for s in p.decode()))
                 for p in c.demux(stream) if p.size and p.pts is not None]
        return [(t, text) for t, text in timed if text], stream.codec_context.name


def test_text_subtitles_a_container_cannot_hold_are_written_as_text_it_takes(clip, tmp_path):
    """SRT cannot go into MP4 or WebM as it is: its cues go there as mov_text and WebVTT,
    with their times and words (not their styling), and MP4's mov_text back into Matroska
    as SRT."""
    source = with_subtitles(clip, tmp_path / "subs.mkv")
    expected = [(t, text.replace(b"<i>", b"").replace(b"</i>", b""))
                for t, text in timed_packets(source, "subtitle")]
    assert expected and expected[0][1] == b"hello"
    outputs = {"mp4": "mov_text", "webm": "webvtt"}
    for suffix, codec in outputs.items():
        out = tmp_path / f"out.{suffix}"
        result = run(str(source), "-o", str(out), "--preset", "ultrafast")
        assert result.returncode == 0, result.stderr
        assert "not copying" not in result.stderr
        assert cues(out) == (expected, codec)
    back = tmp_path / "back.mkv"
    assert run(str(tmp_path / "out.mp4"), "-o", str(back), "--preset", "ultrafast"
               ).returncode == 0
    assert cues(back) == (expected, "srt")  # the decoder of the subrip encoder's packets


def test_max_frames_keeps_audio_and_subtitles_up_to_where_the_frames_stop(clip, tmp_path):
    """Where a file has its audio behind its video (a second here, as MP4 writers' chunks
    can), the packets that belong before a --max-frames stop are still to be read at the
    stop: they are read on for (12 frames had no audio before). Nothing is cut: what was
    read before the stop goes out too."""
    late = with_audio_late(clip, tmp_path / "late.mkv")
    for source, kinds in ((late, ("audio",)),
                          (with_subtitles(clip, tmp_path / "subs.mkv"), ("audio", "subtitle"))):
        out = tmp_path / f"out_{source.stem}.mkv"
        result = run(str(source), "-o", str(out), "--preset", "ultrafast", "--max-frames", "12")
        assert result.returncode == 0, result.stderr
        assert len(video_info(out)[0]) == 12
        end = video_info(source)[0][11] + 1 / 30  # in the source's clock
        for kind in kinds:  # the source's first packets, all those before the end
            given = timed_packets(source, kind)
            kept = [payload for _, payload in timed_packets(out, kind)]
            assert kept == [payload for _, payload in given[:len(kept)]]
            assert len(kept) >= sum(1 for t, _ in given if t < end) > 0
            assert all(t < end + 0.5 for t, _ in given[:len(kept)])


def flickering_static_clip(path, frames=30):
    """A still dark scene under a light flickering ±15 %, fresh sensor noise every frame."""
    from fractions import Fraction

    from rtretinex.training.data import simulate_low_light
    from tests.conftest import small_photo

    base = small_photo(height=96, width=160)
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.options = {"crf": "8"}
        for i in range(frames):
            image = simulate_low_light(base, exposure=0.08 * (1 + 0.15 * rng.uniform(-1, 1)),
                                       seed=i)
            f = av.VideoFrame.from_ndarray(image, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 30)
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return path


def frames_of(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)]


def test_video_settings_reach_the_video_path(tmp_path):
    """Defaults steady the exposure and denoise over time; --smooth 0 / --temporal-denoise 0
    turn each off (an end-to-end check that the flags are wired through)."""
    source = flickering_static_clip(tmp_path / "flicker.mp4")
    outputs = {}
    for name, extra in (("default", []), ("no_smooth", ["--smooth", "0"]),
                        ("no_temporal", ["--temporal-denoise", "0"])):
        outputs[name] = frames_of(tmp_path / f"{name}.mp4") if run(
            str(source), "-o", str(tmp_path / f"{name}.mp4"), "--crf", "0", *extra
        ).returncode == 0 else pytest.fail(name)
    flicker = {k: float(np.abs(np.diff([f.mean() for f in v])).mean()) for k, v in outputs.items()}
    noise = {k: float(np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(v[5:])]))
             for k, v in outputs.items()}
    assert flicker["default"] < 0.5 * flicker["no_smooth"], flicker
    assert noise["default"] < 0.7 * noise["no_temporal"], noise


def test_realtime_plays_a_file_as_a_live_source(clip, tmp_path):
    out, stats = tmp_path / "live.mp4", tmp_path / "s.json"
    start = time.monotonic()
    result = run(str(clip), "-o", str(out), "--realtime", "--stats-json", str(stats))
    assert result.returncode == 0, result.stderr
    report = json.loads(stats.read_text())
    assert report["frames"] + report["dropped"] == 24 and report["seconds"] >= 23 / 30 - 0.05
    assert time.monotonic() - start >= 23 / 30
    assert len(video_info(out)[0]) == report["frames"]


def test_quality_mode_and_input_without_audio(tmp_path):
    silent = write_dark_clip(tmp_path / "silent.mkv", frames=5, width=96, height=64, audio=False)
    out = tmp_path / "out.mkv"
    result = run(str(silent), "-o", str(out), "--mode", "quality", "--backend", "torch-cpu")
    assert result.returncode == 0, result.stderr
    assert len(video_info(out)[0]) == 5 and not audio_packets_or_none(out)


def audio_packets_or_none(path):
    with av.open(str(path)) as c:
        return c.streams.audio and audio_packets(path)


def test_odd_size_is_padded_to_even(tmp_path):
    odd = write_flat_clip(tmp_path / "odd.mkv", "ffv1", 477, 851, "yuv444p")
    out = tmp_path / "odd_out.mp4"
    result = run(str(odd), "-o", str(out))
    assert result.returncode == 0, result.stderr
    times, _, w, h = video_info(out)
    assert (w, h) == (478, 852) and len(times) == 3


def test_truncated_video_processes_what_decodes(clip, tmp_path):
    whole = tmp_path / "whole.ts"
    assert run(str(clip), "-o", str(whole), "--codec", "mpeg4").returncode == 0
    cut = tmp_path / "cut.ts"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.mp4"
    result = run(str(cut), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert 3 <= len(video_info(out)[0]) < 24


def test_existing_output_needs_y(clip, tmp_path):
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"keep me")
    assert_one_line_error(run(str(clip), "-o", str(out)), 1, "pass -y")
    assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize("args,code,fragment", [
    (["9", "--display"], 1, "no webcam at index 9"),
    (["{tmp}/none.mp4", "-o", "{tmp}/o.mp4"], 1, "input not found"),
    (["{tmp}/empty.mp4", "-o", "{tmp}/o.mp4"], 1, "is empty"),
    (["{tmp}/text.mp4", "-o", "{tmp}/o.mp4"], 1, "cannot open video"),
    (["{clip}", "-o", "{tmp}/missing/o.mp4"], 1, "output folder does not exist"),
    (["{clip}"], 2, "nothing to do"),
    (["{clip}", "-o", "{tmp}/o.xyz"], 2, "video output needs one of"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--codec", "nope264"], 2, "no video encoder 'nope264'"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--codec", "aac"], 2, "'aac' encodes audio, not video"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--crf", "99"], 2, "--crf must be 0-51, got 99"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--crf", "-1"], 2, "--crf must be 0-51, got -1"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--preset", "quick"], 2, "unknown --preset 'quick'"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--codec", "mpeg2video"], 1, "cannot encode this video"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--smooth", "-1"], 2, "--smooth must be >= 0"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--compile", "--backend", "openvino"], 2,
     "--compile applies to the cuda backend"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--temporal-denoise", "-1"], 2, "--temporal-denoise must"),
    (["{clip}", "-o", "{tmp}/exists.mp4", "-y"], 1, "is a folder"),
    (["{clip}", "-o", "{tmp}/o.mp4", "--max-frames", "0"], 2, "--max-frames must be >= 1"),
])
def test_error_paths(clip, tmp_path, args, code, fragment):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "exists.mp4").mkdir()
    (tmp_path / "text.mp4").write_text("not a video\n" * 100)
    argv = [a.format(tmp=tmp_path, clip=clip) for a in args]
    assert_one_line_error(run(*argv), code, fragment)
    assert not (tmp_path / "o.mp4").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_encoder_options_from_python_are_checked_as_the_commands_are():
    """``transcode``'s ``EncoderOptions`` refuses what the command's flags refuse, before
    any work (a crf of 60 once reached VP9 as 66, beyond its scale)."""
    from rtretinex.errors import UsageError
    from rtretinex.jobs import EncoderOptions

    for options, fragment in (({"crf": 60}, "--crf must be 0-51, got 60"),
                              ({"preset": "quick"}, "unknown --preset 'quick'"),
                              ({"codec": "aac"}, "'aac' encodes audio, not video")):
        with pytest.raises(UsageError, match=fragment):
            EncoderOptions(**options)
    assert EncoderOptions(codec="libvpx-vp9", crf=51).crf == 51


def decoded_audio(path):
    """(codec name, start in seconds, samples (channels, n) as float) of the first audio
    stream."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        frames = list(c.decode(stream))
        return (stream.codec_context.name, float(frames[0].time),
                np.concatenate([f.to_ndarray() for f in frames], axis=1).astype(np.float64))


def with_pcm_audio(video, target, codec="pcm_s16le"):
    """``video``'s video remuxed into Matroska beside a second of 16-bit stereo audio (a
    440 Hz tone) in ``codec``; Matroska keeps no channel layout for PCM: it reads back as
    "2 channels"."""
    rate = 44_100
    with av.open(str(video)) as vin, av.open(str(target), "w") as out:
        source = vin.streams.video[0]
        copy = out.add_stream_from_template(source)
        audio = out.add_stream(codec, rate=rate)
        audio.layout = "stereo"
        for packet in vin.demux(source):
            if packet.dts is not None:
                packet.stream = copy
                out.mux(packet)
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
        pcm = (np.stack([tone, tone / 2]).T.reshape(1, -1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = rate, 0
        out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return target


def test_pcm_audio_from_matroska_is_copied_into_mp4(clip, tmp_path):
    """MP4 refused to finish a file whose PCM had no named channel layout: the whole
    output was lost at the end ("cannot finish ... Invalid argument")."""
    source = with_pcm_audio(clip, tmp_path / "pcm.mkv")
    out = tmp_path / "out.mp4"
    result = run(str(source), "-o", str(out), "--preset", "ultrafast")
    assert result.returncode == 0, result.stderr
    given, kept = decoded_audio(source), decoded_audio(out)
    assert given[0] == kept[0] == "pcm_s16le"
    assert np.array_equal(given[2], kept[2])
    assert len(video_info(out)[0]) == 24


def test_audio_a_container_refuses_in_its_header_is_re_encoded(clip, tmp_path):
    """FFmpeg takes FLAC into MOV at first but refuses it when the header is written: the
    run failed at the first frame, saying the video encoder could not encode. The sink
    tries each copy on a throwaway header first; FLAC goes into MOV as AAC."""
    source = with_pcm_audio(clip, tmp_path / "flac.mkv", codec="flac")
    out = tmp_path / "out.mov"
    result = run(str(source), "-o", str(out), "--preset", "ultrafast")
    assert result.returncode == 0, result.stderr
    given, kept = decoded_audio(source), decoded_audio(out)
    assert (given[0], kept[0]) == ("flac", "aac")
    assert kept[2].size == pytest.approx(given[2].size, rel=0.05)  # FLAC decodes packed
    loudness = np.sqrt(np.mean((given[2] / 32768) ** 2))  # 16-bit in, float out
    assert np.sqrt(np.mean(kept[2] ** 2)) == pytest.approx(loudness, rel=0.05)


def test_a_webm_output_takes_vp9_and_opus_where_the_defaults_cannot_go(clip, tmp_path):
    """WebM holds VP8, VP9 and AV1 video and Vorbis and Opus audio only: by default the
    output takes the container's own video codec (VP9) at about the default quality instead
    of failing on libx264, and the AAC audio is re-encoded as Opus, in time and as loud,
    instead of left out; a codec the user names is used or refused (one line, nothing
    written)."""
    webm, mp4 = tmp_path / "o.webm", tmp_path / "o.mp4"
    for out in (webm, mp4):
        result = run(str(clip), "-o", str(out), "--nets-every", "1")
        assert result.returncode == 0, result.stderr
    with av.open(str(webm)) as c:
        assert c.streams.video[0].codec_context.name == "vp9"
        vp9 = [f.to_ndarray(format="rgb24").astype(np.float64) for f in c.decode(video=0)]
    with av.open(str(mp4)) as c:
        x264 = [f.to_ndarray(format="rgb24").astype(np.float64) for f in c.decode(video=0)]
    assert len(vp9) == len(x264) == 24
    mse = np.mean([np.mean((a - b) ** 2) for a, b in zip(vp9, x264)])
    assert 10 * np.log10(255**2 / mse) > 35  # two encodes of one picture, both near lossless
    given, kept = decoded_audio(clip), decoded_audio(webm)
    assert (given[0], kept[0]) == ("aac", "opus")
    assert abs(kept[1] - given[1]) < 0.01
    assert abs(kept[2].shape[1] - given[2].shape[1]) <= 0.02 * given[2].shape[1]
    rms = [np.sqrt(np.mean(samples**2)) for samples in (given[2], kept[2])]
    assert rms[1] == pytest.approx(rms[0], rel=0.05)
    refused = tmp_path / "refused.webm"
    assert_one_line_error(run(str(clip), "-o", str(refused), "--codec", "libx264"), 2,
                          "'webm' format does not support 'libx264'")
    assert not refused.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU here may have an encoder")
def test_nvenc_without_an_nvidia_encoder_says_so(clip, tmp_path):
    """PyAV's FFmpeg lists h264_nvenc, but it opens only on a GPU with NVENC (not on this
    machine, nor on an H100/H200)."""
    if "h264_nvenc" not in av.codecs_available:
        pytest.skip("this PyAV's FFmpeg has no h264_nvenc")
    result = run(str(clip), "-o", str(tmp_path / "o.mp4"), "--codec", "h264_nvenc")
    assert_one_line_error(result, 1, "needs an NVIDIA GPU with a video encoder (NVENC)")
    assert not (tmp_path / "o.mp4").exists()


def interrupted(source, out):
    """Enhance ``source`` into ``out`` (slowly: quality mode on torch's CPU) and press Ctrl-C
    three seconds after the output's temporary file appears beside it: the process's exit
    code and stderr."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), str(source), "-o",
                             str(out), "--mode", "quality", "--backend", "torch-cpu"],
                            stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".out")
                                             for p in out.parent.iterdir()):
        time.sleep(0.2)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


def test_ctrl_c_leaves_a_playable_file_or_nothing(tmp_path):
    long_clip = write_dark_clip(tmp_path / "long.mp4", frames=300, width=320, height=180,
                                audio=True)
    out = tmp_path / "out.mp4"
    code, stderr = interrupted(long_clip, out)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    times = video_info(out)[0]  # the promise: the target holds the frames done, playable
    assert 0 < len(times) < 300
    assert f"holds the {len(times)} frames done" in stderr


def test_ctrl_c_keeps_the_audio_that_belongs_with_the_frames_done(tmp_path):
    """A file whose audio lies a second behind its video (as MP4 writers' chunks can put it):
    at a Ctrl-C the audio of the frames done is read on for, as after --max-frames (it came
    out up to a second short)."""
    clip = write_dark_clip(tmp_path / "long.mp4", frames=300, width=320, height=180,
                           audio=True)
    out = tmp_path / "out.mkv"
    code, stderr = interrupted(with_audio_late(clip, tmp_path / "late.mkv"), out)
    assert code == 130, stderr
    times = video_info(out)[0]
    assert 0 < len(times) < 300
    audio = [t for t, _ in timed_packets(out, "audio")]
    assert audio[-1] >= times[-1] + 1 / 30 - 0.1  # up to the end of the last frame
    assert audio[-1] < times[-1] + 1 / 30 + 0.05  # and no further


def test_rotation_metadata_is_kept(tmp_path):
    rotated = tmp_path / "rotated.mp4"
    with av.open(str(rotated), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)
        for i in range(3):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30, np.uint8), "rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    out = tmp_path / "out.mp4"
    assert run(str(rotated), "-o", str(out)).returncode == 0
    with av.open(str(out)) as c:
        assert next(c.decode(video=0)).rotation == 90


def test_display_without_a_screen_fails_cleanly(clip):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, str(ROOT / "run_stream.py"), str(clip), "--display"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert_one_line_error(result, 1, "no display")


def test_a_folder_of_videos(clip, tmp_path):
    """Every video of a folder: a broken one is reported and the rest go on (exit 1); a
    second run skips the complete outputs; a row per file in --stats-json."""
    folder, out, stats = tmp_path / "in", tmp_path / "out", tmp_path / "s.json"
    folder.mkdir()
    shutil.copy(clip, folder / "a.mp4")
    write_dark_clip(folder / "b.mkv", frames=6, width=96, height=64, audio=False)
    (folder / "c.mp4").write_text("not a video\n" * 100)
    result = run(str(folder), "-o", str(out), "--stats-json", str(stats))
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: 1 of 3 videos failed")
    rows = {Path(r["source"]).name: r for r in json.loads(stats.read_text())}
    assert [rows[n]["status"] for n in ("a.mp4", "b.mkv", "c.mp4")] == ["done", "done", "failed"]
    assert len(video_info(out / "a.mp4")[0]) == 24 and len(video_info(out / "b.mkv")[0]) == 6
    assert not (out / "c.mp4").exists()
    again = run(str(folder), "-o", str(out), "--stats-json", str(stats))
    assert again.returncode == 1
    assert [r["status"] for r in json.loads(stats.read_text())] == ["skipped", "skipped", "failed"]


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_network_stream_out_is_paced_and_watchable(tmp_path):
    """-o udp://… sends MPEG-TS as it is enhanced, at the input's own rate; a player on
    127.0.0.1 receives the frames."""
    import threading

    clip = write_dark_clip(tmp_path / "c.mp4", frames=60, width=160, height=96)
    url = f"udp://127.0.0.1:{free_udp_port()}"
    received = []

    def watch():
        with av.open(f"{url}?overrun_nonfatal=1&fifo_size=1000000", format="mpegts",
                     timeout=(30, 5)) as stream:
            try:
                for frame in stream.decode(video=0):
                    received.append(frame.width)
            except av.error.FFmpegError:  # the sender stopped: the read timed out
                pass

    player = threading.Thread(target=watch, daemon=True)
    player.start()
    time.sleep(1)
    stats = tmp_path / "s.json"
    result = run(str(clip), "-o", url, "--stats-json", str(stats))
    assert result.returncode == 0, result.stderr
    # real time, not as fast as it decodes
    assert json.loads(stats.read_text())["seconds"] >= 59 / 30 - 0.05
    player.join(timeout=30)
    assert len(received) >= 50 and set(received) == {160}


def tls_relay(port: int, plain_port: int, tmp_path) -> None:
    """Accept one TLS connection on ``port`` (a self-signed certificate) and relay it, in
    plain, to ``plain_port``: the rtmps receiver (FFmpeg cannot listen for rtmps itself)."""
    import socket
    import ssl
    import threading

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", port))

    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for end in (src, dst):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        with listener:
            conn, _ = listener.accept()
        secure = context.wrap_socket(conn, server_side=True)
        plain = socket.create_connection(("127.0.0.1", plain_port))
        threading.Thread(target=pump, args=(plain, secure), daemon=True).start()
        pump(secure, plain)

    threading.Thread(target=serve, daemon=True).start()


def free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["tcp", "rtmp", "rtmps", "rtsp"])
def test_each_network_output_reaches_a_local_receiver(tmp_path, scheme):
    """Every scheme offered besides udp (above), against FFmpeg's own listen mode on
    127.0.0.1: the receiver decodes the enhanced frames."""
    import threading

    if scheme == "rtmps" and not shutil.which("openssl"):
        pytest.skip("openssl is needed to make the receiver's certificate")
    clip = write_dark_clip(tmp_path / "c.mp4", frames=45, width=160, height=96)
    port = free_tcp_port()
    listen = {  # (receiver URL, its format, its options)
        "tcp": (f"tcp://127.0.0.1:{port}?listen=1", "mpegts", {}),
        "rtmp": (f"rtmp://127.0.0.1:{port}/live/x", "flv", {"listen": "1"}),
        "rtsp": (f"rtsp://127.0.0.1:{port}/live", "rtsp",
                 {"rtsp_flags": "listen", "listen_timeout": "30"}),
    }
    if scheme == "rtmps":
        plain = free_tcp_port()
        listen["rtmps"] = (f"rtmp://127.0.0.1:{plain}/live/x", "flv", {"listen": "1"})
        tls_relay(port, plain, tmp_path)
    url, fmt, options = listen[scheme]
    received = []

    def watch():
        try:
            with av.open(url, format=fmt, options={"timeout": "30", **options}
                         if fmt == "flv" else options) as stream:
                for packet in stream.demux(video=0):
                    received.extend(frame.width for frame in packet.decode())
        except av.error.FFmpegError:  # the sender stopped
            pass

    receiver = threading.Thread(target=watch, daemon=True)
    receiver.start()
    time.sleep(1)
    result = run(str(clip), "-o", f"{scheme}://127.0.0.1:{port}/live/x"
                 if scheme.startswith("rtmp") else url.split("?")[0])
    assert result.returncode == 0, result.stderr
    receiver.join(timeout=30)
    assert len(received) >= 30 and set(received) == {160}  # the last few may be in flight


def test_a_tcp_output_can_listen_for_its_viewer(tmp_path):
    """-o "tcp://…?listen=1": run_stream.py waits for a viewer (OBS, ffplay) to connect."""
    clip = write_dark_clip(tmp_path / "c.mp4", frames=30, width=160, height=96)
    port = free_tcp_port()
    sender = subprocess.Popen([sys.executable, str(ROOT / "run_stream.py"), str(clip), "-o",
                               f"tcp://127.0.0.1:{port}?listen=1"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    received, deadline = [], time.monotonic() + 60
    while not received and time.monotonic() < deadline:
        try:
            with av.open(f"tcp://127.0.0.1:{port}", format="mpegts", timeout=(5, 5)) as c:
                for packet in c.demux(video=0):
                    received.extend(frame.width for frame in packet.decode())
        except av.error.FFmpegError:  # not listening yet, or the sender stopped
            time.sleep(0.05)  # the clip plays while nobody is connected: connect promptly
    _, stderr = sender.communicate(timeout=60)
    assert sender.returncode == 0, stderr
    assert len(received) >= 20 and set(received) == {160}


@pytest.mark.parametrize("args,code,fragment", [
    (["{clip}", "-o", "ftp://127.0.0.1/x.ts"], 2, "cannot send video to ftp://"),
    (["{clip}", "-o", "srt://127.0.0.1:9999"], 2, "has no srt protocol"),
    (["{clip}", "-o", "tcp://127.0.0.1:9"], 1, "cannot send to tcp://127.0.0.1:9"),
    (["{png}", "-o", "udp://127.0.0.1:5000"], 2, "images are written to files"),
])
def test_network_outputs_that_cannot_be(clip, tmp_path, args, code, fragment):
    from rtretinex.images import write_image

    write_image(tmp_path / "d.png", np.zeros((8, 8, 3), np.uint8))
    argv = [a.format(clip=clip, png=tmp_path / "d.png") for a in args]
    assert_one_line_error(run(*argv), code, fragment)

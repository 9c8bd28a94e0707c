"""Sinks: where enhanced frames go. One small interface (``Sink``) that the pipeline drives
without knowing which sink it has: a PyAV file encoder that stream-copies audio and
subtitles (here), and the live view window (``display.DisplaySink``).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import io
import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from ..atomic import AtomicFile
from ..errors import InputError, OutputError, UsageError
from ..pixelops.formats import YUV420P, even_size, even_yuv420p, frame_size
from .frames import VideoFrame
from .sources import LIMITED_RANGE, Packet, Source, reason

__all__ = ["DEFAULT_CODEC", "DEFAULT_CRF", "DEFAULT_PRESET", "MAX_CRF", "PIPE_FORMAT", "STDOUT",
           "VPX_CRF_ABOVE_X264", "X264_CHROMA_QP_OFFSET", "X264_PRESETS", "FileSink", "Sink",
           "check_encoder", "mov_text_sample"]

DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET = "libx264", 18, "veryfast"
MAX_CRF = 51  # x264's and x265's scale
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")  # x265's are the same
# VP9 and VP8 (the default where a container cannot hold H.264: WebM, Ogg): libvpx's
# real-time mode at this speed costs about what x264's veryfast does, and its crf this much
# above x264's gives about the same quality (docs/history.md).
VPX_SPEED, VPX_CRF_ABOVE_X264 = 6, 6
# x264 codes the chroma this many QP finer than its default: the output's colour is lifted
# with its light, and at the default a thin grey beside a colour (a cable against the sky,
# a lane line) takes that colour in the encode (trade-off against bytes: docs/history.md).
X264_CHROMA_QP_OFFSET = -9
MAX_PENDING_PACKETS = 2000
# A copied audio stream of this many channels is written with this layout: Matroska keeps
# none for PCM ("2 channels"), and MP4 refuses to finish a file with PCM in an unnamed one.
NAMED_LAYOUTS = {1: "mono", 2: "stereo"}
# Network outputs: the container each scheme carries, offered where the FFmpeg inside PyAV
# has the scheme's protocol (``network_schemes``; PyPI's wheels have no srt or rist). Not
# offered: rtp (udp:// carries the same MPEG-TS, and FFmpeg reads it back without an SDP).
STREAM_FORMATS = {"udp": "mpegts", "tcp": "mpegts", "rtmp": "flv", "rtmps": "flv",
                  "rtsp": "rtsp", "srt": "mpegts", "rist": "mpegts"}
# -o -: standard output, by default as NUT (FFmpeg's own stream container: the input's time
# base and any audio codec kept, readable from a pipe by ffmpeg, ffplay and mpv).
STDOUT, PIPE_FORMAT = "-", "nut"
# Text subtitles a container cannot hold as they came (SRT or ASS in MP4, MP4's mov_text in
# Matroska) are written as the first of these it takes, as plain text: the cue's words and
# lines kept, its styling (italics, colours, positions) dropped.
TEXT_SUBTITLE_CODECS = ("mov_text", "subrip", "webvtt")
# The ASS header FFmpeg's text subtitle encoders read their default style from (they do not
# open without one); cues use the Default style.
ASS_HEADER = (b"[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n"
              b"[V4+ Styles]\r\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
              b"OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, "
              b"Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, "
              b"MarginV, Encoding\r\nStyle: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,"
              b"100,100,0,0,1,1,0,2,10,10,10,0\r\n\r\n[Events]\r\nFormat: Layer, Start, End, "
              b"Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n")
# Errors that mean the disk failed, not the encoder: full, too large, read-only, I/O.
DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EIO, errno.EDQUOT, errno.EACCES}
log = logging.getLogger("rtretinex")


class Sink(Protocol):
    """What the pipeline needs of a sink. ``name`` labels its timing ("encode", "display");
    ``closed`` turns True when the sink wants no more frames (a window the user closed)."""

    name: str
    closed: bool

    def write(self, frame: VideoFrame, original: np.ndarray) -> None:
        """Take one enhanced frame (``frame.image``) and the input it came from (same
        pixel format)."""
        ...

    def copy(self, packet: Packet) -> None:
        """Take an audio/subtitle packet of the source (sinks without streams ignore it)."""
        ...

    def close(self, keep: bool = True) -> None:
        """Finish; ``keep`` False means the run failed and nothing should be left behind."""
        ...


@functools.cache
def network_schemes() -> tuple[str, ...]:
    """The schemes of STREAM_FORMATS this PyAV's FFmpeg can send to: those among its output
    protocols (``avio_enum_protocols``), and rtsp where it has the rtsp muxer (which opens
    its own tcp/udp). Where its library cannot be found, every scheme is offered."""
    protocols = ffmpeg_output_protocols()
    if protocols is None:
        return tuple(STREAM_FORMATS)
    return tuple(scheme for scheme, fmt in STREAM_FORMATS.items()
                 if scheme in protocols or (scheme == fmt and fmt in av.formats_available))


def ffmpeg_output_protocols() -> frozenset[str] | None:
    """The output protocols of the libavformat PyAV loaded (None if it cannot be found)."""
    package = Path(av.__file__).parent
    patterns = ("av.libs/libavformat*", "av/.dylibs/libavformat*", "av.libs/avformat*.dll")
    found = [path for pattern in patterns for path in package.parent.glob(pattern)]
    if not found:
        return None
    try:
        library = ctypes.CDLL(str(found[0]))
        enumerate_protocols = library.avio_enum_protocols
    except (OSError, AttributeError):
        return None
    enumerate_protocols.restype = ctypes.c_char_p
    enumerate_protocols.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
    state, names = ctypes.c_void_p(None), set()
    while (name := enumerate_protocols(ctypes.byref(state), 1)) is not None:
        names.add(name.decode())
    return frozenset(names)


def check_encoder(name: str) -> None:
    """UsageError unless the FFmpeg inside PyAV has a video encoder called ``name``."""
    try:
        kind = av.Codec(name, "w").type
    except ValueError:  # av's UnknownCodecError
        raise UsageError(f"no video encoder {name!r} here (e.g. {DEFAULT_CODEC}, libx265, "
                         "libvpx-vp9)") from None
    if kind != "video":
        raise UsageError(f"{name!r} encodes {kind}, not video")


def stream_format(target: str | Path, pipe_format: str | None = None) -> str | None:
    """The container for a network output URL (``udp://…`` → mpegts) or standard output
    (``pipe_format``, default PIPE_FORMAT), None for a file; UsageError for a URL scheme that
    cannot be sent to here or a container FFmpeg does not know."""
    text = str(target)
    if text == STDOUT:
        container = pipe_format or PIPE_FORMAT
        if container not in av.formats_available:
            raise UsageError(f"unknown container {container!r} for -o - (e.g. nut, matroska, "
                             "mpegts)")
        return container
    if "://" not in text:
        return None
    scheme = text.split("://", 1)[0].lower()
    offered = network_schemes()
    if scheme not in offered:
        missing = (f"the FFmpeg inside PyAV has no {scheme} protocol"
                   if scheme in STREAM_FORMATS else f"{scheme}:// is not a video output")
        raise UsageError(f"cannot send video to {scheme}://: {missing}; network outputs "
                         f"here: {', '.join(s + '://' for s in offered)}")
    return STREAM_FORMATS[scheme]


class FileSink:
    """Encodes frames with PyAV and copies the source's audio/subtitle packets untouched.

    A file is written to a hidden temporary file beside the target (``AtomicFile``) that is
    renamed into place only when the encoder and muxer finished cleanly, so the target is
    either untouched or a complete, playable file. A network URL (``stream_format``) is
    sent to as it is encoded. Odd frame sizes are padded by one edge pixel (yuv420p needs
    even sizes).
    """

    name = "encode"
    closed = False

    def __init__(self, path: Path | str, source: Source, codec: str | None = None,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET,
                 pipe_format: str | None = None) -> None:
        """``codec`` None: DEFAULT_CODEC, or the container's own video codec where it cannot
        hold H.264 (VP9 in WebM)."""
        fmt = stream_format(path, pipe_format)
        self.path = str(path) if fmt else Path(path)
        self.file = None if fmt else AtomicFile(self.path)
        self.to_pipe = self.path == STDOUT
        where = "pipe:1" if self.to_pipe else str(self.file.tmp) if self.file else self.path
        try:
            self.container = av.open(where, mode="w", format=fmt)
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            if self.file:
                self.file.discard()
            raise OutputError(f"cannot write {self.path}: {reason(exc)}") from None
        self.source = source
        self.codec, self.crf, self.preset = codec, crf, preset
        self.video = None
        self.time_base: Fraction | None = None  # of the encoder: the input's, kept exactly
        self.started = False
        self.copies: dict[int, av.stream.Stream] = {}
        # audio and text subtitles the container cannot hold as they came
        self.reencoded: dict[int, AudioReencoder | SubtitleConverter] = {}
        self.pending: list[Packet] = []  # copied packets that arrive before the first frame
        self.frames_written = 0
        self.last_pts = -1
        self.size: tuple[int, int] | None = None  # (width, height) of the first frame
        self.resized = False

    def _open_video(self, frame: VideoFrame) -> None:
        height, width = frame_size(frame.image, frame.pixel_format)
        rate = Fraction(self.source.fps).limit_denominator(1001)
        self.video = self._add_video_stream(rate)
        self.video.width, self.video.height = even_size(width, height)
        self.video.pix_fmt = "yuv420p"
        if frame.pixel_format == YUV420P:  # the source's YUV values, in the source's colours
            for name, value in self.source.colour_tags:
                setattr(self.video.codec_context, name, value)
            self.video.codec_context.color_range = LIMITED_RANGE
        # Timestamps stay in the input's time base: no rounding, variable frame rate kept.
        # (the muxer may change the stream's own time base when the header is written)
        self.time_base = frame.time_base or Fraction(1, 90_000)
        self.video.time_base = self.video.codec_context.time_base = self.time_base
        self.video.thread_type = "AUTO"
        if self.codec in ("libx264", "libx265"):
            self.video.options = {"crf": str(self.crf), "preset": self.preset}
            if self.codec == "libx264":
                self.video.options["x264-params"] = f"chroma-qp-offset={X264_CHROMA_QP_OFFSET}"
            if self.file is None:  # a live stream: no lookahead or B-frames holding frames
                self.video.options["tune"] = "zerolatency"
        elif self.codec in ("libvpx", "libvpx-vp9"):  # constant quality (b 0), real time
            self.video.options = {"deadline": "realtime", "cpu-used": str(VPX_SPEED),
                                  "row-mt": "1", "b": "0",
                                  "crf": str(self.crf + VPX_CRF_ABOVE_X264)}
        if frame.rotation:
            self.video.set_display_rotation(frame.rotation)
        self._add_other_streams()
        try:
            self.container.start_encoding()  # opens the encoder, writes the header
            self.started = True
        except (av.error.FFmpegError, OSError) as exc:
            if self.file is None and self.video.codec_context.is_open:
                # the encoder opened: what failed is the connection
                where = "standard output" if self.to_pipe else self.path
                raise OutputError(f"cannot send to {where}: {reason(exc)}") from None
            if exc.errno in DISK_ERRNOS:
                raise self._write_failed(exc) from None
            if self.codec.endswith("_nvenc"):  # NVENC: an NVIDIA GPU with a video encoder
                raise OutputError(f"encoder {self.codec!r} cannot open ({reason(exc)}): it "
                                  "needs an NVIDIA GPU with a video encoder (NVENC) and its "
                                  "driver; data-centre GPUs such as the H100 and H200 have "
                                  "none; use the default libx264") from None
            raise OutputError(f"encoder {self.codec!r} cannot encode this video "
                              f"({reason(exc)}); try the default libx264") from None
        for packet in self.pending:
            self.copy(packet)
        self.pending.clear()

    def _add_other_streams(self) -> None:
        """The source's audio and subtitle streams: copied where the container takes them as
        they are, audio it does not take re-encoded (``AudioReencoder``), text subtitles
        rewritten in a text format it takes (``SubtitleConverter``), the rest left out with
        a warning."""
        for stream in self.source.copied_streams:
            if self._takes(functools.partial(_copy_of, stream)):
                self.copies[stream.index] = _copy_of(stream, self.container)
                continue
            if stream.type == "audio":
                try:
                    self.reencoded[stream.index] = AudioReencoder(self.container, stream)
                    continue
                except (av.error.FFmpegError, ValueError):
                    pass
            elif stream.codec_context.codec.text_sub:
                codec = next((name for name in TEXT_SUBTITLE_CODECS
                              if self._takes(functools.partial(_text_subtitles, name))), None)
                if codec is not None:
                    self.reencoded[stream.index] = SubtitleConverter(self.container, stream,
                                                                     codec)
                    continue
            log.warning("not copying %s stream %d: %s cannot hold codec %s", stream.type,
                        stream.index, self.container.format.name, stream.codec_context.name)

    def _takes(self, add: Callable[[av.container.OutputContainer], object]) -> bool:
        """Whether the output's container takes the stream ``add(container)`` adds to it:
        tried on a throwaway header in memory, since FFmpeg refuses some pairs only there
        (FLAC or Opus in MOV). An RTSP output is a connection, not a muxer to try in memory:
        it decides itself."""
        name = self.container.format.name
        try:
            if name == "rtsp":
                return True
            with av.open(io.BytesIO(), "w", format=name) as trial:
                add(trial)
                trial.start_encoding()
            return True
        except (av.error.FFmpegError, ValueError, OSError):
            return False

    def _add_video_stream(self, rate: Fraction) -> av.video.stream.VideoStream:
        """The video stream of the codec asked for; by default DEFAULT_CODEC, or the
        container's own video codec where it cannot hold H.264."""
        names = [self.codec] if self.codec else [DEFAULT_CODEC,
                                                 self.container.default_video_codec]
        for name in names:
            try:
                stream = self.container.add_stream(name, rate=rate)
            except (av.error.FFmpegError, ValueError) as exc:
                error = exc
                continue
            self.codec = stream.codec_context.name  # the encoder: vp9 is libvpx-vp9
            return stream
        raise UsageError(f"cannot use codec {names[0]!r}: {reason(error)}") from None

    def write(self, frame: VideoFrame, original: np.ndarray | None = None) -> None:
        """Encode one enhanced frame, keeping its timestamp."""
        if self.video is None:
            self._open_video(frame)
        height, width = frame_size(frame.image, frame.pixel_format)
        if self.size is None:
            self.size = (width, height)
        elif (width, height) != self.size and not self.resized:
            log.warning("the video changes size at frame %d (%dx%d to %dx%d): scaled to the "
                        "first size", frame.index, *self.size, width, height)
            self.resized = True
        image = even_yuv420p(frame.image, frame.pixel_format,
                             (self.video.width, self.video.height))
        out = av.VideoFrame.from_ndarray(image, format="yuv420p")
        if frame.pts is not None and frame.time_base == self.time_base:
            pts = frame.pts
        else:
            pts = round(frame.index / self.source.fps / self.time_base)
        self.last_pts = pts = max(pts, self.last_pts + 1)
        out.pts, out.time_base = pts, self.time_base
        self._mux(self.video.encode(out))
        self.frames_written += 1

    def _mux(self, packets: av.Packet | list[av.Packet]) -> None:
        try:
            self.container.mux(packets)
        except (av.error.FFmpegError, OSError) as exc:
            if exc.errno == errno.EPIPE and self.to_pipe:
                raise OutputError(f"the reader of standard output closed it after "
                                  f"{self.frames_written} frames") from None
            if exc.errno in DISK_ERRNOS:
                raise self._write_failed(exc) from None
            raise

    def _write_failed(self, exc: BaseException) -> OutputError:
        return OutputError(f"cannot write {self.path}: {reason(exc)}; nothing was written there")

    def copy(self, packet: Packet) -> None:
        """Mux an audio/subtitle packet as it came."""
        if self.video is None:
            if len(self.pending) >= MAX_PENDING_PACKETS:
                raise InputError("no video frame among the first packets; cannot mux")
            self.pending.append(packet)
            return
        stream = self.copies.get(packet.stream.index)
        if stream is not None:
            packet.stream = stream
            self._mux(packet)
        elif packet.stream.index in self.reencoded:
            self._mux(self.reencoded[packet.stream.index].encode(packet))

    def close(self, keep: bool = True) -> None:
        """Flush the encoder, finish the file and move it into place; when not keeping, when
        no frame was written or when finishing fails, remove it (and raise in the last case)."""
        try:
            if self.started:
                self.container.mux(self.video.encode(None))
                for reencoder in self.reencoded.values():
                    self.container.mux(reencoder.encode(None))
            self.container.close()
            if keep and self.frames_written and self.file:
                self.file.commit()
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            if keep:
                raise OutputError(f"cannot finish {self.path} ({reason(exc)}); "
                                  "nothing was written there") from None
        finally:
            if self.file:
                self.file.discard()


class AudioReencoder:
    """An audio stream the output's container cannot hold as it came (AAC in WebM): decoded
    on a decoder of its own and encoded again in the container's audio codec (Opus in WebM),
    at the source's rate where that codec takes it."""

    def __init__(self, container: av.container.OutputContainer,
                 source: av.audio.stream.AudioStream) -> None:
        given = source.codec_context
        self.decoder = av.CodecContext.create(given.name, "r")
        self.decoder.extradata = given.extradata
        self.decoder.sample_rate, self.decoder.layout = given.sample_rate, given.layout
        rates = av.Codec(container.default_audio_codec, "w").audio_rates
        rate = given.sample_rate if not rates or given.sample_rate in rates else max(rates)
        self.stream = container.add_stream(container.default_audio_codec, rate=rate)
        self.stream.layout = given.layout
        _name_layout(self.stream.codec_context)
        self.resampler = av.AudioResampler(format=self.stream.codec_context.format.name,
                                           layout=self.stream.layout.name, rate=rate)
        log.info("audio stream %d (%s) re-encoded as %s: %s cannot hold it", source.index,
                 given.name, self.stream.codec_context.name, container.format.name)

    def encode(self, packet: av.Packet | None) -> list[av.Packet]:
        """The output's packets for one source packet; None flushes all three stages. A
        packet that does not decode is left out, as a damaged stretch of video is."""
        try:
            decoded = self.decoder.decode(packet)
        except av.error.FFmpegError:
            if packet is not None:
                return []
            decoded = []
        frames = [part for frame in decoded for part in self.resampler.resample(frame)]
        if packet is None:
            frames += self.resampler.resample(None)
        encoded = [out for frame in frames for out in self.stream.encode(frame)]
        return encoded + (self.stream.encode(None) if packet is None else [])


class SubtitleConverter:
    """A text subtitle stream the output's container cannot hold as it came (SRT in MP4):
    each cue decoded on a decoder of its own and written as a packet of ``codec`` (one of
    TEXT_SUBTITLE_CODECS) with the same times, as plain text (FFmpeg has text subtitle
    encoders, PyAV no call to them)."""

    def __init__(self, container: av.container.OutputContainer,
                 source: av.subtitles.stream.SubtitleStream, codec: str) -> None:
        given = source.codec_context
        self.decoder = av.CodecContext.create(given.name, "r")
        self.decoder.extradata = given.extradata
        self.stream = _text_subtitles(codec, container)
        self.stream.time_base = source.time_base
        log.info("subtitle stream %d (%s) written as %s: %s cannot hold it", source.index,
                 given.name, codec, container.format.name)

    def encode(self, packet: av.Packet | None) -> list[av.Packet]:
        """The output's packets for one source packet (None: the end, nothing held). A cue
        that does not decode, or has no text, is left out."""
        if packet is None:
            return []
        try:
            parts = self.decoder.decode(packet)
        except av.error.FFmpegError:
            return []
        # the ASS dialogue of its text parts, without the styling; bitmap parts have none
        text = b"\n".join(part.dialogue for part in parts
                          if isinstance(part, av.subtitles.subtitle.AssSubtitle))
        if not text:
            return []
        if self.stream.codec_context.name == "mov_text":
            text = mov_text_sample(text)
        out = av.Packet(text)
        out.stream, out.time_base = self.stream, packet.time_base
        out.pts, out.dts, out.duration = packet.pts, packet.dts, packet.duration
        return [out]


def mov_text_sample(text: bytes) -> bytes:
    """A cue's UTF-8 ``text`` as a mov_text sample: its length in 16 bits, then the text,
    cut to the 65535 bytes that length can say, at a character's start."""
    end = min(len(text), 0xFFFF)
    while end < len(text) and end > 0 and text[end] & 0xC0 == 0x80:  # inside a character
        end -= 1
    return end.to_bytes(2, "big") + text[:end]


def _text_subtitles(codec: str, container: av.container.OutputContainer
                    ) -> av.subtitles.stream.SubtitleStream:
    """A text subtitle stream of ``codec`` added to ``container``, with the ASS header its
    encoder needs to open."""
    stream = container.add_stream(codec)
    stream.codec_context.subtitle_header = ASS_HEADER
    return stream


def _copy_of(stream: av.stream.Stream, container: av.container.OutputContainer
             ) -> av.stream.Stream:
    """``stream`` added to ``container`` to be copied into it, an audio layout named."""
    copy = container.add_stream_from_template(stream)
    if copy.type == "audio":
        _name_layout(copy.codec_context)
    return copy


def _name_layout(audio: av.audio.codeccontext.AudioCodecContext) -> None:
    """Give an audio stream whose layout has no name (only a channel count) the usual one
    for its count (NAMED_LAYOUTS)."""
    channels = audio.channels
    if audio.layout.name == f"{channels} channels" and channels in NAMED_LAYOUTS:
        audio.layout = NAMED_LAYOUTS[channels]

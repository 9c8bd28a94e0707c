"""The virtual camera: the enhanced stream as a camera that Zoom, Meet, Teams, Discord and OBS
can pick (``--virtual-camera``).

On Linux the frames go to a v4l2loopback device (``V4L2Output``: the calls pyvirtualcam
makes, in Python, so a write that takes long never holds the interpreter); on Windows and
macOS to OBS's virtual camera through ``pyvirtualcam`` (the optional extra
``rtretinex[vcam]``, GPL-2.0). Frames go as I420, what the pipeline already holds in fast
mode (no RGB round trip), from a sender thread with a one-frame mailbox: a slow reader
makes frames be dropped here, never holds the pipeline up.
"""

from __future__ import annotations

import logging
import os
import struct
import sys
import threading
from typing import Any

import numpy as np

from ..errors import OutputError, UsageError
from ..pixelops.formats import even_size, even_yuv420p
from .frames import VideoFrame
from .pipeline import LatestSlot
from .sources import Packet, Source

__all__ = ["AUTO_DEVICE", "LOOPBACK_HINT", "V4L2Output", "VirtualCameraSink",
           "check_virtual_camera"]

log = logging.getLogger("rtretinex")

AUTO_DEVICE = "auto"  # the first free virtual camera
_STOP = object()  # tells the sender thread to end
LOOPBACK_HINT = ("create one with: sudo modprobe v4l2loopback devices=1 exclusive_caps=1 "
                 "card_label=rtretinex (package v4l2loopback-dkms)")
_INSTALL_HINT = "the virtual camera needs pyvirtualcam: pip install 'rtretinex[vcam]'"


def _pyvirtualcam() -> Any:
    try:
        import pyvirtualcam
    except ImportError:
        raise UsageError(_INSTALL_HINT) from None
    return pyvirtualcam


def check_virtual_camera(device: str = AUTO_DEVICE) -> None:
    """Fail early, in one line (UsageError), where the virtual camera cannot work: on Linux
    no v4l2loopback device (``device`` AUTO_DEVICE: any of /dev/video*) or not the one
    named; elsewhere pyvirtualcam missing (it says what else is missing when opened)."""
    if not sys.platform.startswith("linux"):
        _pyvirtualcam()
        return
    try:
        os.close(loopback_device(device)[1])
    except OutputError as exc:
        raise UsageError(str(exc)) from None


# V4L2 (linux/videodev2.h): the ioctls, capabilities and format a loopback writer uses
VIDIOC_QUERYCAP, VIDIOC_S_FMT = 0x80685600, 0xC0D05605
V4L2_CAP_VIDEO_OUTPUT, V4L2_BUF_TYPE_VIDEO_OUTPUT = 0x2, 2
V4L2_PIX_FMT_YUV420 = int.from_bytes(b"YU12", "little")
LOOPBACK_DRIVER = b"v4l2 loopback"
_DEVICES = 64  # /dev/video0 … 63 are tried when no device is named


def _open_loopback(name: str) -> int:
    """A write descriptor of ``name`` once it answers VIDIOC_QUERYCAP as a v4l2loopback
    output (OSError otherwise)."""
    import fcntl  # POSIX only

    fd = os.open(name, os.O_WRONLY)
    try:
        caps = bytearray(104)  # v4l2_capability
        fcntl.ioctl(fd, VIDIOC_QUERYCAP, caps)
        driver = bytes(caps[:16]).split(b"\0")[0]
        (capabilities,) = struct.unpack_from("<I", caps, 84)
        if driver != LOOPBACK_DRIVER or not capabilities & V4L2_CAP_VIDEO_OUTPUT:
            raise OSError(f"not a v4l2loopback output (driver {driver.decode()!r})")
    except OSError:
        os.close(fd)
        raise
    return fd


def loopback_device(device: str = AUTO_DEVICE) -> tuple[str, int]:
    """(name, write descriptor) of the named v4l2loopback ``device``, or of the first of
    /dev/video0…63 that is one; OutputError saying how to create one where none is."""
    names = [device] if device != AUTO_DEVICE else [f"/dev/video{i}" for i in range(_DEVICES)]
    for name in names:
        try:
            return name, _open_loopback(name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if device != AUTO_DEVICE:
                raise OutputError(f"cannot use {name}: {exc.strerror or exc}; "
                                  f"{LOOPBACK_HINT}") from None
    if device != AUTO_DEVICE:
        raise OutputError(f"no video device {device}; {LOOPBACK_HINT}")
    raise OutputError(f"no v4l2loopback device among /dev/video*; {LOOPBACK_HINT}")


class V4L2Output:
    """A v4l2loopback device (``loopback_device``) set to take I420 frames of ``size``
    (w, h), written with os.write."""

    def __init__(self, size: tuple[int, int], device: str = AUTO_DEVICE) -> None:
        import fcntl  # POSIX only

        self.size = size
        self.device, self.fd = loopback_device(device)
        width, height = size
        fmt = bytearray(208)  # v4l2_format: type, then v4l2_pix_format at offset 8
        struct.pack_into("<I", fmt, 0, V4L2_BUF_TYPE_VIDEO_OUTPUT)
        struct.pack_into("<IIIIII", fmt, 8, width, height, V4L2_PIX_FMT_YUV420, 1, width,
                         width * height * 3 // 2)
        try:
            fcntl.ioctl(self.fd, VIDIOC_S_FMT, fmt)
        except OSError as exc:
            os.close(self.fd)
            raise OutputError(f"cannot set {self.device} to {width}x{height} I420: "
                              f"{exc.strerror or exc}") from None

    def send(self, frame: np.ndarray) -> None:
        """Write one I420 frame (the interpreter is free while the device takes it)."""
        view = memoryview(np.ascontiguousarray(frame)).cast("B")
        while view:
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        os.close(self.fd)


class _ObsCamera:
    """OBS's virtual camera (Windows, macOS) through pyvirtualcam, I420 frames."""

    def __init__(self, size: tuple[int, int], fps: float, device: str) -> None:
        pyvirtualcam = _pyvirtualcam()
        try:
            self.camera = pyvirtualcam.Camera(
                *size, fps=fps, fmt=pyvirtualcam.PixelFormat.I420,
                device=None if device == AUTO_DEVICE else device)
        except (RuntimeError, ValueError) as exc:
            detail = " ".join(str(exc).split())
            raise OutputError(f"cannot open the virtual camera: {detail} (install OBS "
                              "Studio and start its virtual camera once)") from None
        self.device = self.camera.device
        self.send, self.close = self.camera.send, self.camera.close


class VirtualCameraSink:
    """Sends enhanced frames to a virtual camera (see the module docstring) at the source's
    size (rounded up to even) and frame rate; ``device`` AUTO_DEVICE: the first free one."""

    name = "vcam"
    closed = False

    def __init__(self, source: Source, device: str = AUTO_DEVICE) -> None:
        self.size = even_size(source.width, source.height)
        self.camera = (V4L2Output(self.size, device) if sys.platform.startswith("linux")
                       else _ObsCamera(self.size, float(source.fps), device))
        log.info("virtual camera: %s (%dx%d I420)", self.camera.device, *self.size)
        self.sent = 0
        self.failure: BaseException | None = None
        self._mailbox = LatestSlot()  # a frame not yet sent is replaced: a drop
        self._sender = threading.Thread(target=self._send, name="vcam", daemon=True)
        self._sender.start()

    def write(self, frame: VideoFrame, original: np.ndarray | None = None) -> None:
        """Hand the frame to the sender; one not yet sent is replaced (counted as dropped)."""
        if self.failure is not None:
            raise OutputError(f"the virtual camera stopped: {self.failure}")
        self._mailbox.put(even_yuv420p(frame.image, frame.pixel_format, self.size))

    def copy(self, packet: Packet) -> None:
        """A camera has no audio: packets are ignored."""

    def _send(self) -> None:
        """Send what the mailbox holds until _STOP; after a failure (reported by the next
        write) frames are only taken, so closing never waits on a dead sender."""
        while (image := self._mailbox.get()) is not _STOP:
            if self.failure is not None:
                continue
            try:
                self.camera.send(image)
                self.sent += 1
            except Exception as exc:
                self.failure = exc

    def close(self, keep: bool = True) -> None:
        """Send what is waiting (when keeping), stop the sender and release the device."""
        if keep:
            self._mailbox.wait_empty()
        self._mailbox.put(_STOP)
        self._sender.join()
        self.camera.close()
        if self._mailbox.dropped:
            log.info("virtual camera: %d frames sent, %d dropped (the reader was slower)",
                     self.sent, self._mailbox.dropped)

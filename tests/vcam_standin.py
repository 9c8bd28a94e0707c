"""A stand-in v4l2loopback device for the virtual-camera tests (no kernel module needed).

    unshare -m --propagation private python tests/vcam_standin.py RECORD /dev/videoN \
        [--slow MS] -- CMD...

Inside a private mount namespace (as root): a FUSE file system (spoken directly over
/dev/fuse, no libfuse) holds one file that answers the V4L2 calls pyvirtualcam makes on a
v4l2loopback device (VIDIOC_QUERYCAP: "v4l2 loopback", a video output; VIDIOC_S_FMT: the
format is kept) and records what is written to it; /dev gets a private tmpfs that links
to every host device, plus that file bind-mounted as /dev/videoN. CMD runs there; then
RECORD/device.json holds the format set and each write's time and size, RECORD/frames.raw
the bytes written. ``--slow MS``: each write takes that long (a reader that cannot keep up).
The exit code is CMD's.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# FUSE opcodes (include/uapi/linux/fuse.h)
LOOKUP, FORGET, GETATTR, SETATTR, OPEN, WRITE, RELEASE, FSYNC, FLUSH, INIT = (
    1, 2, 3, 4, 14, 16, 18, 20, 25, 26)
INTERRUPT, DESTROY, IOCTL, BATCH_FORGET = 36, 38, 39, 42
NO_REPLY = {FORGET, BATCH_FORGET, INTERRUPT}
IN_HEADER = struct.Struct("<IIQQIIIHH")  # len opcode unique nodeid uid gid pid extlen pad
OUT_HEADER = struct.Struct("<IiQ")  # len error unique
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")  # fuse_attr
FOPEN_DIRECT_IO = 1
FUSE_BIG_WRITES, FUSE_MAX_PAGES = 1 << 5, 1 << 22
MAX_WRITE = 1 << 20
ROOT, DEVICE = 1, 2
NAME = b"video"

# V4L2 (include/uapi/linux/videodev2.h), 64-bit layout
VIDIOC_QUERYCAP, VIDIOC_S_FMT, VIDIOC_G_FMT = 0x80685600, 0xC0D05605, 0xC0D05604
V4L2_CAP_VIDEO_OUTPUT, V4L2_CAP_STREAMING, V4L2_CAP_DEVICE_CAPS = 0x2, 0x04000000, 0x80000000
PIX_FORMAT = struct.Struct("<12I")  # v4l2_pix_format, at offset 8 of v4l2_format (208 bytes)

MS_BIND, MS_REC = 4096, 16384
MNT_DETACH = 2
libc = ctypes.CDLL(None, use_errno=True)


def mount(source: str, target: str, fstype: str | None, flags: int = 0, data: str = "") -> None:
    if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                  flags, data.encode() or None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


class StandIn:
    """The FUSE server: one directory holding the device file."""

    def __init__(self, record: Path, slow_ms: float = 0.0) -> None:
        self.record, self.slow = record, slow_ms / 1e3
        self.frames = open(record / "frames.raw", "wb")  # closed in finish()
        self.log: dict = {"querycap": 0, "format": None, "writes": [], "opens": 0}
        self.fd = os.open("/dev/fuse", os.O_RDWR)

    def attr(self, node: int) -> bytes:
        now = int(time.time())
        mode, links = (0o40755, 2) if node == ROOT else (0o100666, 1)
        return ATTR.pack(node, 0, 0, now, now, now, 0, 0, 0, mode, links, 0, 0, 0, 4096, 0)

    def reply(self, unique: int, error: int = 0, payload: bytes = b"") -> None:
        os.write(self.fd, OUT_HEADER.pack(OUT_HEADER.size + len(payload), -error, unique)
                 + payload)

    def serve(self) -> None:
        while True:
            try:
                request = os.read(self.fd, MAX_WRITE + 65536)
            except OSError as exc:
                if exc.errno in (errno.ENODEV, errno.EBADF):
                    return  # unmounted
                if exc.errno in (errno.EINTR, errno.ENOENT, errno.EAGAIN):
                    continue
                raise
            _, opcode, unique, node, *_ = IN_HEADER.unpack_from(request)
            body = request[IN_HEADER.size:]
            if opcode in NO_REPLY:
                continue
            try:
                error, payload = self.handle(opcode, node, body)
            except Exception as exc:  # an answer, never a hung client
                print(f"stand-in: opcode {opcode}: {exc!r}", file=sys.stderr)
                error, payload = errno.EIO, b""
            self.reply(unique, error, payload)
            if opcode == DESTROY:
                return

    def handle(self, opcode: int, node: int, body: bytes) -> tuple[int, bytes]:
        if opcode == INIT:
            _, _, readahead, flags = struct.unpack_from("<IIII", body)
            wanted = flags & (FUSE_BIG_WRITES | FUSE_MAX_PAGES)
            return 0, struct.pack("<IIIIHHIIHHII6I", 7, 31, readahead, wanted, 16, 12,
                                  MAX_WRITE, 1, 256, 0, 0, 0, *([0] * 6))
        if opcode == LOOKUP:
            if node != ROOT or body.rstrip(b"\0") != NAME:
                return errno.ENOENT, b""
            return 0, struct.pack("<QQQQII", DEVICE, 0, 60, 60, 0, 0) + self.attr(DEVICE)
        if opcode in (GETATTR, SETATTR):
            return 0, struct.pack("<QII", 60, 0, 0) + self.attr(node)
        if opcode == OPEN:
            self.log["opens"] += 1
            return 0, struct.pack("<QII", 1, FOPEN_DIRECT_IO, 0)
        if opcode == WRITE:
            _, offset, size = struct.unpack_from("<QQI", body)
            time.sleep(self.slow)
            self.frames.write(body[40:40 + size])
            self.log["writes"].append([time.monotonic(), offset, size])
            return 0, struct.pack("<II", size, 0)
        if opcode == IOCTL:
            _, _, cmd, _, in_size, out_size = struct.unpack_from("<QIIQII", body)
            return self.ioctl(cmd, body[32:32 + in_size], out_size)
        if opcode in (FLUSH, RELEASE, FSYNC, DESTROY):
            return 0, b""
        return errno.ENOSYS, b""

    def ioctl(self, cmd: int, data: bytes, out_size: int) -> tuple[int, bytes]:
        """fuse_ioctl_out (result, flags, iovs) and the argument the caller gets back."""
        if cmd == VIDIOC_QUERYCAP:
            self.log["querycap"] += 1
            caps = V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_STREAMING
            arg = struct.pack("<16s32s32sIII12x", b"v4l2 loopback", b"rtretinex stand-in",
                              b"platform:v4l2loopback-000", 0x60000,
                              caps | V4L2_CAP_DEVICE_CAPS, caps)
        elif cmd in (VIDIOC_S_FMT, VIDIOC_G_FMT):
            if cmd == VIDIOC_S_FMT:
                width, height, fourcc, *_ = PIX_FORMAT.unpack_from(data, 8)
                self.log["format"] = {"width": width, "height": height,
                                      "fourcc": fourcc.to_bytes(4, "little").decode(),
                                      "sizeimage": width * height * 3 // 2}
            fmt = self.log["format"] or {"width": 0, "height": 0, "fourcc": "YU12",
                                         "sizeimage": 0}
            pix = PIX_FORMAT.pack(fmt["width"], fmt["height"],
                                  int.from_bytes(fmt["fourcc"].encode(), "little"), 1,
                                  fmt["width"], fmt["sizeimage"], 8, 0, 0, 0, 0, 0)
            arg = struct.pack("<II", 2, 0) + pix + bytes(208 - 8 - PIX_FORMAT.size)
        else:
            return errno.ENOTTY, b""
        return 0, struct.pack("<iIII", 0, 0, 0, 0) + arg[:out_size]

    def finish(self) -> None:
        self.frames.close()
        (self.record / "device.json").write_text(json.dumps(self.log))


def private_dev(device_file: str, video: str) -> None:
    """/dev as a tmpfs linking to the host's entries, with ``device_file`` at ``video``."""
    host = tempfile.mkdtemp(prefix="hostdev")
    mount("/dev", host, None, MS_BIND | MS_REC)
    mount("none", "/dev", "tmpfs", 0, "mode=755")
    for name in os.listdir(host):
        os.symlink(os.path.join(host, name), os.path.join("/dev", name))
    Path(video).touch()
    mount(device_file, video, None, MS_BIND)


def main() -> int:
    record, video = Path(sys.argv[1]), sys.argv[2]
    split = sys.argv.index("--")
    options, command = sys.argv[3:split], sys.argv[split + 1:]
    slow = float(options[options.index("--slow") + 1]) if "--slow" in options else 0.0
    standin = StandIn(record, slow)
    root = tempfile.mkdtemp(prefix="standin")
    mount("standin", root, "fuse", 0,
          f"fd={standin.fd},rootmode=40000,user_id=0,group_id=0")
    server = threading.Thread(target=standin.serve, daemon=True)
    server.start()
    private_dev(os.path.join(root, NAME.decode()), video)
    try:
        return subprocess.run(command).returncode
    finally:
        libc.umount2(video.encode(), MNT_DETACH)
        libc.umount2(root.encode(), MNT_DETACH)
        server.join(timeout=5)
        standin.finish()


if __name__ == "__main__":
    sys.exit(main())

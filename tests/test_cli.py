"""run_stream.py on still images: round trips and every error path (exit code, one line)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rtretinex.images import read_image, write_image

from .conftest import small_photo

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run_stream.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    # one error line; what the backend says about this machine (a CPU without bf16) may
    # come before it
    lines = [line for line in result.stderr.strip().splitlines()
             if line.strip() and not line.startswith("WARNING")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def dark_png(tmp_path: Path) -> Path:
    from rtretinex.training.data import simulate_low_light

    path = tmp_path / "dark.png"
    write_image(path, simulate_low_light(small_photo(height=60, width=80)))
    return path


def test_image_round_trip_is_brighter_and_same_size(dark_png, tmp_path):
    before = dark_png.read_bytes()
    out = tmp_path / "bright.png"
    result = run(str(dark_png), "-o", str(out), "--backend", "torch-cpu")
    assert result.returncode == 0, result.stderr
    dark, bright = read_image(dark_png), read_image(out)
    assert bright.shape == dark.shape
    assert bright.mean() > 1.5 * dark.mean()
    assert dark_png.read_bytes() == before  # input untouched


def test_folder_round_trip_writes_pngs(tmp_path, dark_png):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.jpg"):
        write_image(src / name, read_image(dark_png))
    out = tmp_path / "out"
    result = run(str(src), "-o", str(out), "--backend", "openvino", "--mode", "fast")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]


def test_existing_output_is_kept_without_y(dark_png, tmp_path):
    out = tmp_path / "bright.png"
    out.write_bytes(b"precious")
    assert_one_line_error(run(str(dark_png), "-o", str(out)), 1, "pass -y")
    assert out.read_bytes() == b"precious"
    assert run(str(dark_png), "-o", str(out), "-y", "--backend", "torch-cpu").returncode == 0
    assert read_image(out).shape == (60, 80, 3)


@pytest.mark.parametrize("name,content,fragment", [
    ("missing.png", None, "input not found"),
    ("empty.png", b"", "cannot decode"),
    ("text.png", b"hello", "cannot decode"),
    ("empty_dir", "dir", "no images"),
])
def test_bad_inputs_fail_cleanly(tmp_path, name, content, fragment):
    source = tmp_path / name
    if content == "dir":
        source.mkdir()
    elif content is not None:
        source.write_bytes(content)
    out = tmp_path / "out.png"
    result = run(str(source), "-o", str(out))
    assert_one_line_error(result, 1, fragment)
    assert not out.exists()


def test_missing_output_folder(dark_png, tmp_path):
    assert_one_line_error(run(str(dark_png), "-o", str(tmp_path / "no" / "x.png")), 1,
                          "does not exist")


def test_usage_errors_exit_2(dark_png, tmp_path):
    assert_one_line_error(run(str(dark_png)), 2, "needs -o")
    assert_one_line_error(run(str(dark_png), "-o", str(tmp_path / "x.txt")), 2, "image suffix")
    assert_one_line_error(run(str(dark_png), "-o", str(tmp_path / "x.png"), "--backend", "gpu9"),
                          2, "choose one of: auto, tensorrt, cuda, openvino, torch-cpu")
    result = run(str(dark_png), "-o", str(tmp_path / "x.png"), "--backend", "openvino",
                 "--precision", "int4")
    assert_one_line_error(result, 2, "does not support precision 'int4'")


def test_corrupt_weights_fail_cleanly(dark_png, tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(np.arange(100, dtype=np.uint8).tobytes())
    out = tmp_path / "x.png"
    assert_one_line_error(run(str(dark_png), "-o", str(out), "--weights", str(weights)), 1,
                          "not a rtretinex weights file")
    assert not out.exists()


def test_main_called_from_python_leaves_the_callers_signal_handlers(dark_png, tmp_path,
                                                                    monkeypatch):
    """Inside a run SIGTERM stops it as Ctrl-C does; after it the caller's handler is back
    (a Python program that calls ``cli.main`` keeps its own SIGTERM)."""
    import signal

    from rtretinex import cli

    def callers(signum, frame):
        raise AssertionError("not called")

    seen = []
    monkeypatch.setattr(cli, "run_images",
                        lambda *args: seen.append(signal.getsignal(signal.SIGTERM)) or 0)
    before = signal.signal(signal.SIGTERM, callers)
    try:
        assert cli.main([str(dark_png), "-o", str(tmp_path / "x.png")]) == 0
        assert seen == [cli._stop]
        assert signal.getsignal(signal.SIGTERM) is callers
    finally:
        signal.signal(signal.SIGTERM, before)


def test_missing_backend_says_what_to_install(dark_png, tmp_path):
    result = run(str(dark_png), "-o", str(tmp_path / "x.png"), "--backend", "tensorrt")
    assert_one_line_error(result, 1, "backend 'tensorrt' is unavailable")


def test_a_photo_stored_sideways_comes_out_upright_with_its_exif(tmp_path):
    """A phone stores a portrait photo sideways with an EXIF orientation tag; the output,
    written without the tag, was sideways and had lost the camera, date and place. It is
    turned upright as the tag says and keeps the EXIF (orientation now upright) in JPEG, PNG
    and WebP."""
    from PIL import Image

    stored = np.zeros((60, 100, 3), np.uint8)
    stored[:, :50] = (20, 2, 2)  # the left half dark red, the right half black
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: the left half on top
    exif[0x010F], exif[0x0132] = "TestCam", "2026:12:07 08:00:00"
    src = tmp_path / "portrait.jpg"
    Image.fromarray(stored).save(src, exif=exif.tobytes(), quality=95)
    for out in (tmp_path / "out.jpg", tmp_path / "out.png", tmp_path / "out.webp"):
        result = run(str(src), "-o", str(out))
        assert result.returncode == 0, result.stderr
        upright = read_image(out)
        assert upright.shape == (100, 60, 3)
        assert upright[:50, :, 0].mean() > 4 * upright[50:, :, 0].mean() + 20
        with Image.open(out) as written:
            written.load()  # the inserted block keeps the file valid
            kept = written.getexif()
        assert (kept[0x0112], kept[0x010F], kept[0x0132]) == (1, "TestCam",
                                                              "2026:12:07 08:00:00")


def test_every_exif_orientation_is_turned_upright_alpha_too(tmp_path):
    """load_image turns each of the eight EXIF orientations as OpenCV's own decoder does,
    from one decode, and turns the alpha channel with the colour."""
    import cv2
    from PIL import Image

    from rtretinex.images import load_image

    stored = np.random.default_rng(0).integers(0, 255, (6, 10, 3), dtype=np.uint8)
    stored = cv2.resize(stored, (100, 60), interpolation=cv2.INTER_NEAREST)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        src = tmp_path / f"o{orientation}.jpg"
        Image.fromarray(stored).save(src, exif=exif.tobytes(), quality=100, subsampling=0)
        opencv = cv2.imdecode(np.fromfile(src, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(load_image(src)[0], opencv), orientation
    rgba = np.zeros((60, 100, 4), np.uint8)
    rgba[:, :50] = (200, 0, 0, 255)  # the left half opaque red, the right half clear
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png", exif=exif.tobytes())
    rgb, alpha = load_image(tmp_path / "a.png")
    assert rgb.shape == (100, 60, 3) and alpha.shape == (100, 60)
    assert (alpha[:50] == 255).all() and (alpha[50:] == 0).all() and (rgb[:50, :, 0] == 200).all()


def test_16_bit_png_stays_16_bit_and_alpha_is_carried(tmp_path):
    import cv2

    from rtretinex.images import load_image
    from rtretinex.training.data import simulate_low_light

    dark = simulate_low_light(small_photo(height=60, width=80)).astype(np.uint16) * 257
    dark += np.random.default_rng(0).integers(0, 257, dark.shape, dtype=np.uint16)  # below 8 bits
    alpha = np.tile(np.linspace(0, 65535, 80, dtype=np.uint16), (60, 1))
    bgra = cv2.cvtColor(dark, cv2.COLOR_RGB2BGRA)
    bgra[..., 3] = alpha
    src, out = tmp_path / "deep.png", tmp_path / "out.png"
    cv2.imwrite(str(src), bgra)
    result = run(str(src), "-o", str(out))
    assert result.returncode == 0, result.stderr
    rgb, out_alpha = load_image(out)
    assert rgb.dtype == np.uint16 and rgb.mean() > 1.5 * dark.mean()
    assert len(np.unique(rgb)) > 256 * 4  # the sub-8-bit detail went through
    assert np.array_equal(out_alpha, alpha)

"""The torch executor (``rtretinex/pixelops/torch_ops.py``) end to end: video frames on the
nets' torch device, in both modes. On "cpu" it must give what the host executor gives, within
2 codes at the 99.9th percentile and 4 at most, on video with its temporal state, on RGB and
yuv420p frames; its conversions and resampling must be OpenCV's (its formulas are held to the
reference in ``test_pixel_ops.py``). The CUDA checks skip without a GPU."""

import json
import subprocess
import sys
from fractions import Fraction

import cv2
import numpy as np
import pytest
import torch

from rtretinex.frame.enhancer import Enhancer
from rtretinex.frame.settings import EnhanceSettings
from rtretinex.nets.backends import create_backend, get_spec
from rtretinex.pixelops import torch_ops
from rtretinex.pixelops.formats import RGB24, YUV420P, downscale, from_rgb, half_luma, to_rgb
from rtretinex.training.data import simulate_camera_night, simulate_low_light
from rtretinex.video.frames import VideoFrame

from .conftest import small_photo
from .test_cli import ROOT

NO_GPU = "needs a CUDA GPU visible to torch"


@pytest.fixture(scope="module")
def backend():
    return create_backend("torch-cpu")


def settings(mode="quality", **options):
    """Video settings; fast mode runs the nets on every frame, as the automatic interval
    follows each enhancer's own timing of them (two enhancers could choose differently)."""
    options.setdefault("nets_every", 1)
    return EnhanceSettings(mode=mode, **options).for_stream(video=True)


def camera_clip(count=6, photo="astronaut", exposure=0.05):
    """yuv420p buffers of a bundled photo panning right, as a camera writes it at night
    (magenta black level): the temporal denoiser sees motion and still parts."""
    picture = small_photo(photo, 96, 128)
    return [simulate_camera_night(np.roll(picture, 3 * i, axis=1), exposure=exposure, seed=i)
            for i in range(count)]


def both_paths(backend, frames, fmt, **options):
    """Each frame enhanced by the host path and the device path (on the CPU)."""
    host = Enhancer(backend, settings(**options), on_device=False)
    on_device = Enhancer(backend, settings(**options), on_device=True)
    assert not host.on_device and on_device.on_device
    pairs = []
    for i, image in enumerate(frames):
        frame = VideoFrame(image, i, i, Fraction(1, 30), pixel_format=fmt)
        pairs.append((host.enhance(frame), on_device.enhance(frame)))
    return pairs


def assert_close(pairs):
    for host, on_device in pairs:
        assert host.shape == on_device.shape and on_device.dtype == np.uint8
        difference = np.abs(host.astype(np.int16) - on_device)
        assert np.percentile(difference, 99.9) <= 2 and difference.max() <= 4, (
            np.percentile(difference, 99.9), difference.max())


@pytest.mark.parametrize("mode", ["quality", "fast"])
def test_night_video_with_its_temporal_state_matches_the_host_path(backend, mode):
    pairs = both_paths(backend, camera_clip(), YUV420P, mode=mode)
    assert_close(pairs)
    # the state carried: later frames differ from a fresh enhancer's (denoised over time)
    fresh = Enhancer(backend, settings(mode), on_device=True).enhance(
        VideoFrame(camera_clip()[-1], 0, pixel_format=YUV420P))
    assert np.abs(fresh.astype(np.int16) - pairs[-1][1]).mean() > 0.05


@pytest.mark.parametrize("photo,exposure", [("coffee", 0.03), ("chelsea", 0.12),
                                            ("rocket", 1.0)])
@pytest.mark.parametrize("temporal_denoise", [0.0, 1.0])
def test_rgb_frames_match_the_host_path(backend, photo, exposure, temporal_denoise):
    """Dark, moderately dark and well-lit RGB frames; without the temporal denoiser the
    frame stays uint8 up to the nets."""
    picture = small_photo(photo, 90, 120)
    frames = [simulate_low_light(np.roll(picture, 2 * i, axis=0), exposure, seed=i)
              if exposure < 1 else np.roll(picture, 2 * i, axis=0) for i in range(3)]
    assert_close(both_paths(backend, frames, RGB24, temporal_denoise=temporal_denoise))


@pytest.mark.parametrize("mode", ["quality", "fast"])
def test_a_night_graded_purple_matches_the_host_path(backend, mode):
    """The cast off before the nets and back after (``without_cast``, ``rgb_without_cast``)."""
    from .test_night import night_in_a_tint

    frames = [from_rgb(np.roll(to_rgb(frame), 3 * i, axis=1))
              for i, frame in enumerate(night_in_a_tint((6, 8))[:3])]
    pairs = both_paths(backend, frames, YUV420P, mode=mode)
    assert_close(pairs)
    assert to_rgb(pairs[-1][0]).mean() > 3 * to_rgb(frames[-1]).mean()


@pytest.mark.parametrize("mode", ["quality", "fast"])
def test_a_light_switched_on_and_a_cut_match_the_host_path(backend, mode):
    dark = camera_clip(3)
    lit = [from_rgb(small_photo("astronaut", 96, 128))] * 2
    other = camera_clip(2, photo="chelsea")
    assert_close(both_paths(backend, dark + lit + other, YUV420P, mode=mode))


@pytest.mark.parametrize("temporal_denoise", [0.0, 1.0])
def test_fast_mode_on_codec_blocks_matches_the_host_path(backend, temporal_denoise):
    """Dark flat areas quantized in 8×8 blocks (the deblocking and flat smoothing work)
    and no magenta (the chroma planes stay uint8 up to the filters)."""
    frames = []
    for seed in range(3):
        buffer = simulate_camera_night(small_photo("coffee", 96, 128), exposure=0.05,
                                       chroma_bias=0.0, seed=seed)
        y = buffer[:96]
        blocks = cv2.resize(cv2.resize(y, (16, 12), interpolation=cv2.INTER_AREA), (128, 96),
                            interpolation=cv2.INTER_NEAREST)
        y[y < 30] = blocks[y < 30]
        frames.append(buffer)
    assert_close(both_paths(backend, frames, YUV420P, mode="fast",
                            temporal_denoise=temporal_denoise))


def test_conversions_are_opencvs():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (36, 50, 3), dtype=np.uint8)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)
    buffer = from_rgb(rgb)
    assert np.array_equal(torch_ops.rgb_to_yuv420p(tensor).numpy(), buffer)
    assert np.array_equal(torch_ops.yuv420p_to_rgb(torch.from_numpy(buffer)).permute(1, 2, 0)
                          .numpy(), to_rgb(buffer))
    assert np.array_equal(torch_ops.grey(tensor).numpy(), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert np.array_equal(torch_ops.half_luma(tensor).numpy(), half_luma(rgb))


@pytest.mark.parametrize("size", [(25, 18), (7, 5), (3, 2)])
def test_area_and_bilinear_are_opencvs(size):
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (36, 50, 3)).astype(np.float32)
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    small = torch_ops.area(tensor, size).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(small, downscale(image, size), atol=1e-3)
    big = torch_ops.bilinear(torch.from_numpy(small).permute(2, 0, 1), (50, 36))
    np.testing.assert_allclose(big.permute(1, 2, 0).numpy(),
                               cv2.resize(small, (50, 36), interpolation=cv2.INTER_LINEAR),
                               atol=1e-3)


def test_a_backend_without_a_torch_device_has_no_torch_executor():
    if get_spec("openvino").unavailable_reason():
        pytest.skip(get_spec("openvino").unavailable_reason())
    openvino = create_backend("openvino", "fp32")
    assert torch_ops.device_of(openvino) is None
    assert not Enhancer(openvino, settings()).on_device
    with pytest.raises(ValueError, match="no torch device"):
        Enhancer(openvino, settings(), on_device=True)


def test_the_torch_executor_is_taken_only_where_the_nets_run_on_a_gpu(backend):
    assert not Enhancer(backend, settings()).on_device  # torch-cpu: the host executor


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
def test_on_a_gpu_fp32_matches_the_host_path_and_fp16_the_cpu_reference(backend):
    frames = camera_clip()
    host = Enhancer(backend, settings(), on_device=False)
    for precision, p999, most in (("fp32", 2, 4), ("fp16", 2, 8)):
        gpu = Enhancer(create_backend("cuda", precision), settings())
        assert gpu.on_device and gpu.executor.device.type == "cuda"
        host.reset()
        for i, image in enumerate(frames):
            frame = VideoFrame(image, i, i, Fraction(1, 30), pixel_format=YUV420P)
            difference = np.abs(host.enhance(frame).astype(np.int16) - gpu.enhance(frame))
            assert np.percentile(difference, 99.9) <= p999 and difference.max() <= most, (
                precision, np.percentile(difference, 99.9), difference.max())


def test_the_gpu_transcode_benchmark_runs_and_writes_its_rows(tmp_path):
    """``benchmarks/gpu_transcode.py`` (run by gpu_check.sh on a GPU machine) on the CPU,
    tiny: the rows the issue asks for, measured from whole processes."""
    out = tmp_path / "t.json"
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_transcode.py"),
                             "--backend", "torch-cpu", "--sizes", "160x96", "--frames", "12",
                             "--modes", "quality,fast --nets-every 2", "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["device"] == "CPU" and [r["mode"] for r in report["rows"]] == [
        "quality", "fast --nets-every 2"]
    for row in report["rows"]:
        assert row["size"] == "160x96" and row["fps"] > 0 and row["passthrough_fps"] > 0
        assert row["pipeline_fps"] >= row["fps"] and row["stage_ms"]["enhance"] > 0


def test_a_frame_the_gpu_has_no_memory_for_goes_on_on_the_host(backend, monkeypatch, caplog):
    enhancer = Enhancer(backend, settings(), on_device=True)
    host = Enhancer(backend, settings(), on_device=False)
    frames = camera_clip(2)

    def out_of_memory(image):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(enhancer.executor, "upload", out_of_memory)
    first = enhancer.enhance(VideoFrame(frames[0], 0, 0, Fraction(1, 30), pixel_format=YUV420P))
    assert not enhancer.on_device and "ran out of memory for a 128x96 frame" in caplog.text
    assert np.array_equal(first, host.enhance(VideoFrame(frames[0], 0, 0, Fraction(1, 30),
                                                         pixel_format=YUV420P)))

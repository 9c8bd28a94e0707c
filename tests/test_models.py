import json

import pytest
import torch
import torch.nn.functional as F

from rtretinex.nets.models import (
    DEFAULT_WEIGHTS,
    RetinexHeads,
    RetinexNet,
    WeightsError,
    WeightsMeta,
    count_macs,
    count_parameters,
    create_retinexnet,
    load_weights,
    save_weights,
)


def test_parameter_counts_match_the_paper_architecture():
    net = RetinexNet()
    assert count_parameters(net.decom) == 207_748
    assert count_parameters(net.enhance) == 236_865
    assert count_parameters(net) == 444_613


@pytest.mark.parametrize("enhance_grid", [0, 32])
@pytest.mark.parametrize("height,width", [(37, 53), (400, 600), (1, 1), (9, 130)])
def test_any_size_gives_matching_shapes_in_range(height, width, enhance_grid):
    net = RetinexNet(enhance_grid).eval()
    x = torch.rand(2, 3, height, width)
    with torch.inference_mode():
        out = net(x)
    assert out.reflectance.shape == (2, 3, height, width)
    assert out.illumination.shape == (2, 1, height, width)
    assert out.enhanced_illumination.shape == (2, 1, height, width)
    assert out.output.shape == (2, 3, height, width)
    assert 0 <= float(out.output.min()) and float(out.output.max()) <= 1
    assert 0 < float(out.illumination.min()) and float(out.illumination.max()) < 1


@pytest.mark.parametrize("enhance_grid", [0, 32])
def test_output_is_reflectance_times_enhanced_illumination(enhance_grid):
    net = RetinexNet(enhance_grid).eval()
    x = torch.rand(1, 3, 20, 30)
    with torch.inference_mode():
        out = net(x)
        r, _, i_hat = RetinexHeads(net)(x)
    expected = (out.reflectance * out.enhanced_illumination).clamp(0, 1)
    torch.testing.assert_close(out.output, expected)
    torch.testing.assert_close(r, out.reflectance)
    torch.testing.assert_close(i_hat, out.enhanced_illumination)


def test_weights_round_trip(tmp_path):
    net = RetinexNet()
    path = tmp_path / "w.pt"
    save_weights(net, path, WeightsMeta(training_data="x", held_out=["1", "2"]))
    other = RetinexNet()
    meta = load_weights(other, path)
    assert meta.parameters == 444_613 and meta.held_out == ["1", "2"]
    for a, b in zip(net.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)


def test_enhance_net_sees_the_whole_frame_pooled_to_its_grid():
    net = RetinexNet(8).eval()
    r, i = torch.rand(1, 3, 32, 48), torch.rand(1, 1, 32, 48)
    with torch.inference_mode():
        small = net.enhance(F.avg_pool2d(r, (4, 6)), F.avg_pool2d(i, (4, 6)))
        full = net.relight(r, i)
    assert small.shape == (1, 1, 8, 8) and full.shape == (1, 1, 32, 48)
    # bilinear upsampling keeps the low-res values' mean and range
    torch.testing.assert_close(full.mean(), small.mean(), atol=1e-2, rtol=0)
    assert small.min() - 1e-5 <= full.min() and full.max() <= small.max() + 1e-5


def test_mac_count_matches_the_hand_count_and_drops_with_enhance_grid():
    # Decom: 9·9·4·64 + 5·9·64·64 + 9·64·4 per pixel; Enhance: stem, 3 strided, 3 up, fuse, head
    decom = 81 * 4 * 64 + 5 * 9 * 64 * 64 + 9 * 64 * 4
    assert count_macs(RetinexNet().decom, 64, 64) == decom * 64 * 64
    assert count_macs(RetinexNet(), 64, 64) == 283_008 * 64 * 64
    enhance_at_grid = count_macs(RetinexNet(), 16, 16) - decom * 16 * 16
    assert count_macs(RetinexNet(16), 64, 64) == decom * 64 * 64 + enhance_at_grid


def test_enhance_grid_round_trips_and_a_bad_one_is_refused(tmp_path):
    path = tmp_path / "w.pt"
    save_weights(RetinexNet(32), path, WeightsMeta())
    assert create_retinexnet(path).enhance_grid == 32
    blob = torch.load(path, weights_only=True)
    blob["meta"] = json.dumps({**json.loads(blob["meta"]), "enhance_grid": -1})
    torch.save(blob, path)
    with pytest.raises(WeightsError, match="enhance_grid"):
        create_retinexnet(path)


def test_shipped_weights_load_and_say_how_they_were_made():
    meta = load_weights(RetinexNet(), DEFAULT_WEIGHTS)
    assert meta.command.startswith("python -m rtretinex.train")
    assert meta.held_out and {"psnr", "ssim"} <= meta.validation.keys()


def test_corrupt_weights_give_a_clear_error(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="not a rtretinex weights file"):
        create_retinexnet(path)


def test_missing_weights_give_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        create_retinexnet(tmp_path / "nope.pt")


def test_weights_for_another_architecture_are_refused(tmp_path):
    path = tmp_path / "other.pt"
    meta = json.dumps({"architecture": "zero-dce"})
    torch.save({"state_dict": {}, "meta": meta}, path)
    with pytest.raises(WeightsError, match="zero-dce"):
        create_retinexnet(path)


def test_mismatched_state_dict_is_refused(tmp_path):
    path = tmp_path / "small.pt"
    torch.save({"state_dict": {"decom.head.weight": torch.zeros(1)},
                "meta": json.dumps({"architecture": "retinexnet"})}, path)
    with pytest.raises(WeightsError, match="do not fit"):
        create_retinexnet(path)

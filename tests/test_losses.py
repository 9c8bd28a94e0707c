import torch

from rtretinex.nets.models import RetinexOutput
from rtretinex.training.losses import (
    decom_loss,
    gradient,
    output_loss,
    relight_loss,
    smoothness,
    ssim,
)


def test_gradient_of_a_ramp():
    ramp = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 1, 4, 5)
    gx, gy = gradient(ramp, "x"), gradient(ramp, "y")
    assert torch.all(gx[..., :-1, :-1] == 1)
    assert torch.all(gy[..., :-1, :] == 0)


def test_smoothness_is_zero_for_constant_illumination():
    i = torch.full((2, 1, 16, 16), 0.4)
    r = torch.rand(2, 3, 16, 16)
    assert float(smoothness(i, r)) == 0.0


def test_smoothness_penalises_edges_less_where_reflectance_has_edges():
    i = torch.zeros(1, 1, 16, 16)
    i[..., 8:] = 1.0  # a vertical step in I
    flat_r = torch.full((1, 3, 16, 16), 0.5)
    edged_r = flat_r.clone()
    edged_r[..., 8:] = 1.0  # the same step in R
    assert float(smoothness(i, edged_r)) < float(smoothness(i, flat_r))


def test_decom_loss_is_small_for_an_exact_smooth_decomposition():
    r = torch.rand(1, 3, 16, 16)
    i_low, i_high = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.9)
    loss = decom_loss((r, i_low), (r, i_high), r * i_low, r * i_high)
    assert float(loss) < 1e-6
    worse = decom_loss((r, i_low), (r, i_high), r * i_low + 0.1, r * i_high)
    assert float(worse) > 0.09


def test_relight_and_output_losses_reward_the_right_answer():
    r = torch.rand(1, 3, 16, 16)
    i = torch.full((1, 1, 16, 16), 0.2)
    target = r * 0.8
    good = RetinexOutput(r, i, torch.full_like(i, 0.8), r * 0.8)
    bad = RetinexOutput(r, i, torch.full_like(i, 0.3), r * 0.3)
    assert float(relight_loss(good, target)) < 1e-6 < float(relight_loss(bad, target))
    assert float(output_loss(good, r * i, target)) < float(output_loss(bad, r * i, target))


def test_ssim_is_one_for_identical_images_and_lower_for_noise():
    x = torch.rand(1, 3, 32, 32)
    assert abs(float(ssim(x, x)) - 1.0) < 1e-5
    assert float(ssim(x, (x + 0.2 * torch.randn_like(x)).clamp(0, 1))) < 0.9


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    x = torch.rand(1, 3, 40, 40)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    expected = structural_similarity(
        x[0].permute(1, 2, 0).numpy(), y[0].permute(1, 2, 0).numpy(), data_range=1.0,
        channel_axis=2,
    )
    assert abs(float(ssim(x, y)) - expected) < 2e-3

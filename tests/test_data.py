import numpy as np
import pytest

from rtretinex.errors import InputError
from rtretinex.images import write_image
from rtretinex.training.data import (
    PairedImages,
    find_pairs,
    simulate_low_light,
    split_names,
    to_tensor,
)

from .conftest import make_lol_folder, small_photo


def test_find_pairs_sorts_names_naturally(tmp_path):
    root = make_lol_folder(tmp_path, count=3, suffix=".webp")
    (root / "low" / "3.webp").rename(root / "low" / "10.webp")
    (root / "high" / "3.webp").rename(root / "high" / "10.webp")
    assert find_pairs(root) == ["1", "2", "10"]


def test_mismatched_names_are_reported(lol_folder):
    (lol_folder / "high" / "2.png").rename(lol_folder / "high" / "7.png")
    with pytest.raises(InputError, match=r"names differ.*1 only in low/, 1 only in high/"):
        find_pairs(lol_folder)


def test_missing_subfolder_and_empty_folder_are_reported(tmp_path):
    with pytest.raises(InputError, match="missing low/"):
        find_pairs(tmp_path)
    (tmp_path / "low").mkdir()
    (tmp_path / "high").mkdir()
    with pytest.raises(InputError, match="no images"):
        find_pairs(tmp_path)


def test_split_is_deterministic_and_disjoint():
    names = [str(i) for i in range(1, 101)]
    train, val = split_names(names, 10, seed=0)
    assert (train, val) == split_names(names, 10, seed=0)
    assert len(val) == 10 and not set(train) & set(val) and set(train) | set(val) == set(names)


def test_patches_apply_the_same_flip_and_rotation_to_both_images(tmp_path):
    root = tmp_path / "same"
    for side in ("low", "high"):
        (root / side).mkdir(parents=True)
        write_image(root / side / "1.png", small_photo())
    data = PairedImages.load(root)
    low, high = data.sample(np.random.default_rng(0), batch=16, patch=24)
    assert low.shape == (16, 3, 24, 24) and low.dtype.is_floating_point
    assert bool((low == high).all())


def test_low_light_simulation_is_dark_noisy_and_deterministic():
    photo = small_photo(height=96, width=128)
    dark = simulate_low_light(photo, exposure=0.05, seed=3)
    assert dark.dtype == np.uint8 and dark.shape == photo.shape
    assert dark.mean() < 0.45 * photo.mean()
    assert np.array_equal(dark, simulate_low_light(photo, exposure=0.05, seed=3))
    assert not np.array_equal(dark, simulate_low_light(photo, exposure=0.05, seed=4))


def test_to_tensor_layout():
    photo = small_photo()
    t = to_tensor(photo)
    assert t.shape == (1, 3, 48, 64)
    assert float(t[0, 0, 5, 7]) == pytest.approx(photo[5, 7, 0] / 255)

"""Evaluation helpers against outside references (skimage Lab, sklearn nearest bins, numpy)."""

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab
from sklearn.metrics import mean_absolute_error
from sklearn.neighbors import NearestNeighbors

from colorlab import color
from colorlab.evaluate import ab_statistics, baseline_constants, evaluate


@pytest.fixture
def rgb_loader():
    """Three uint8 batches of different sizes, as a DataModule yields them."""
    g = torch.Generator().manual_seed(0)
    return [{"rgb": torch.randint(0, 256, (n, 3, 12, 12), dtype=torch.uint8, generator=g)} for n in (2, 3, 1)]


def _skimage_lab(loader) -> np.ndarray:
    return rgb2lab(np.concatenate([b["rgb"].numpy() for b in loader]).transpose(0, 2, 3, 1) / 255.0)


def test_mean_ab_is_the_pixel_mean_of_skimage_lab(rgb_loader):
    expected = _skimage_lab(rgb_loader)[..., 1:].reshape(-1, 2).mean(axis=0)
    assert np.abs(expected).min() > 1  # a non-trivial reference
    np.testing.assert_allclose(ab_statistics(rgb_loader)["mean_ab"].numpy(), expected, atol=0.02)
    first = _skimage_lab(rgb_loader[:1])[..., 1:].reshape(-1, 2).mean(axis=0)
    np.testing.assert_allclose(ab_statistics(rgb_loader, limit=1)["mean_ab"].numpy(), first, atol=0.02)


def test_bin_counts_and_the_mode_bin_against_sklearn(rgb_loader):
    stats = ab_statistics(rgb_loader)
    ab = _skimage_lab(rgb_loader)[..., 1:].reshape(-1, 2)
    nearest = NearestNeighbors(n_neighbors=1).fit(color.ab_bins().numpy()).kneighbors(ab, return_distance=False)[:, 0]
    expected = np.bincount(nearest, minlength=color.ab_bins().shape[0])
    assert stats["images"] == 6 and stats["counts"].sum() == 6 * 144
    assert np.abs(stats["counts"].numpy() - expected).sum() <= 4  # kornia vs skimage Lab at cell borders
    constants = baseline_constants(stats)
    assert constants["baseline_grey"].tolist() == [0.0, 0.0]
    assert torch.equal(constants["baseline_mode_bin"], color.ab_bins()[int(np.argmax(stats["counts"].numpy()))])


def test_baselines_are_scored_by_the_metric_code_on_the_same_images(rgb_loader):
    stats = ab_statistics(rgb_loader)
    rows = evaluate({}, rgb_loader, baseline_constants(stats))
    ab = _skimage_lab(rgb_loader)[..., 1:].reshape(-1, 2)
    for name, constant in baseline_constants(stats).items():
        expected = mean_absolute_error(ab, np.broadcast_to(constant.numpy(), ab.shape))
        assert rows[name]["metrics"]["ab_l1"] == pytest.approx(expected, abs=0.02), name
        assert len(rows[name]["rmse_per_image"]) == 6 and len(rows[name]["pixel_error_cdf"]) == 151

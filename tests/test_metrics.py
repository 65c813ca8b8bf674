"""Metrics against reference libraries (sklearn, skimage), and batched accumulation == one-shot."""

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb
from skimage.metrics import peak_signal_noise_ratio
from sklearn.metrics import mean_absolute_error, mean_squared_error
from sklearn.neighbors import NearestNeighbors

from colorlab import color
from colorlab.metrics import ABError, BinAccuracy, colorization_metrics


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    lab = color.rgb_to_lab(torch.rand(6, 3, 10, 12, generator=g))
    lab_hat = lab.clone()
    lab_hat[:, 1:] += torch.randn(6, 2, 10, 12, generator=g) * 8  # same L, perturbed ab
    return lab_hat, lab


def test_ab_errors_match_sklearn_in_both_units(pair):
    lab_hat, lab = pair
    ab_hat, ab = lab_hat[:, 1:].flatten().double().numpy(), lab[:, 1:].flatten().double().numpy()
    cases = [(1, 1.0, mean_absolute_error(ab, ab_hat)), (2, 1.0, mean_squared_error(ab, ab_hat)),
             (1, 128.0, mean_absolute_error(ab / 128, ab_hat / 128)),
             (2, 128.0, mean_squared_error(ab / 128, ab_hat / 128))]  # fmt: skip
    for p, scale, expected in cases:
        metric = ABError(p=p, scale=scale)
        metric.update(lab_hat, lab)
        assert metric.compute().item() == pytest.approx(expected, rel=1e-5)


def test_batched_accumulation_equals_one_shot(pair):
    lab_hat, lab = pair
    batched, once = colorization_metrics(""), colorization_metrics("")
    for part_hat, part in zip(lab_hat.split([1, 2, 3]), lab.split([1, 2, 3])):
        batched.update(part_hat, part)
    once.update(lab_hat, lab)
    for key, value in once.compute().items():
        assert batched.compute()[key].item() == pytest.approx(value.item(), rel=1e-5), key


def test_psnr_is_skimage_per_image_psnr_averaged(pair):
    lab_hat, lab = pair
    metric = colorization_metrics("")["psnr"]
    metric.update(lab_hat, lab)
    to_rgb = lambda t: np.clip(lab2rgb(t.permute(1, 2, 0).double().numpy()), 0, 1)
    expected = np.mean([peak_signal_noise_ratio(to_rgb(a), to_rgb(b), data_range=1.0) for a, b in zip(lab, lab_hat)])
    assert metric.compute().item() == pytest.approx(expected, abs=1e-3)


def test_bin_accuracy_against_sklearn_nearest_bins(pair):
    _, lab = pair
    ab = lab[:, 1:]
    nearest = NearestNeighbors(n_neighbors=1).fit(color.ab_bins().numpy())
    truth = nearest.kneighbors(ab.permute(0, 2, 3, 1).reshape(-1, 2).numpy(), return_distance=False)[:, 0]
    predicted = truth.copy()
    predicted[::4] = (predicted[::4] + 1) % color.ab_bins().shape[0]  # a quarter of the pixels wrong
    logits = torch.zeros(ab.shape[0] * ab.shape[2] * ab.shape[3], color.ab_bins().shape[0])
    logits[torch.arange(len(predicted)), torch.from_numpy(predicted)] = 1.0
    logits = logits.reshape(ab.shape[0], ab.shape[2], ab.shape[3], -1).permute(0, 3, 1, 2)
    metric = BinAccuracy()
    metric.update(logits, ab)
    assert metric.compute().item() == pytest.approx(np.mean(predicted == truth))

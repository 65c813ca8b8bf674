"""Metrics against reference libraries (sklearn, skimage), and batched accumulation == one-shot."""

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.metrics import mean_absolute_error, mean_squared_error
from sklearn.neighbors import NearestNeighbors

from colorlab import color, metrics
from colorlab.metrics import ABError, LogitAccuracy, colorization_metrics


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    lab = color.rgb_to_lab(torch.rand(6, 3, 12, 13, generator=g))  # SSIM's window needs 11 pixels a side
    lab_hat = lab.clone()
    lab_hat[:, 1:] += torch.randn(6, 2, 12, 13, generator=g) * 8  # same L, perturbed ab
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
        assert batched.compute()[key].item() == pytest.approx(value.item(), rel=1e-5, nan_ok=True), key


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
    metric = LogitAccuracy()
    metric.update(logits, ab)
    assert metric.compute().item() == pytest.approx(np.mean(predicted == truth))


def test_top1_upsamples_the_argmax_and_accuracy_averages_the_truth(pair):
    """``top1``: each net-resolution argmax bin (2x2 blocks here) against the bin of every true full-resolution
    pixel in its block (numpy upsampling); ``accuracy``: against the bin of the block's mean ab."""
    _, lab = pair
    g = torch.Generator().manual_seed(2)
    coarse = lab[:, 1:, :6, :6].repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    ab = coarse + torch.randn(coarse.shape, generator=g) * 4  # (B, 2, 12, 12): blocks of 4 similar pixels
    b, _, h, w = ab.shape
    q = color.ab_bins().shape[0]
    near = lambda x: color.nearest_bin(x).reshape(-1).numpy()  # the bin definition (tested against sklearn above)
    mean = ab.reshape(b, 2, h // 2, 2, w // 2, 2).mean(dim=(3, 5))  # (B, 2, h/2, w/2) block means
    chosen = near(mean).copy()
    chosen[::3] = (chosen[::3] + 7) % q  # a third of the blocks wrong
    logits = torch.nn.functional.one_hot(torch.from_numpy(chosen), q).float()
    logits = logits.reshape(b, h // 2, w // 2, q).permute(0, 3, 1, 2)
    full = np.repeat(np.repeat(chosen.reshape(b, h // 2, w // 2), 2, axis=1), 2, axis=2).reshape(-1)
    collection = metrics.classifier_metrics("")
    collection.update(logits, ab)
    got = collection.compute()
    assert got["top1"].item() == pytest.approx(np.mean(full == near(ab)))
    assert got["accuracy"].item() == pytest.approx(np.mean(chosen == near(mean)))
    assert 0.2 < got["top1"].item() < got["accuracy"].item() < 0.7  # distinct figures


def test_exact_first_batch_keeps_every_metric_separate(pair):
    """An exact first batch gives the ab errors identical (zero) states; they must not be merged."""
    lab_hat, lab = pair
    metrics = colorization_metrics("")
    metrics.update(lab, lab)  # exact
    metrics.update(lab_hat, lab)
    d = torch.cat([lab - lab, lab_hat - lab])[:, 1:].double().numpy()  # every ab error, both batches
    expected = {"ab_l1": np.abs(d).mean(), "ab_mse": (d**2).mean(),
                "ab_l1_n": np.abs(d / 128).mean(), "ab_mse_n": ((d / 128) ** 2).mean()}  # fmt: skip
    got = metrics.compute()
    for key, value in expected.items():
        assert got[key].item() == pytest.approx(value, rel=1e-5), key


def test_psnr_of_an_exact_image_is_the_8bit_quantisation_cap(pair):
    lab_hat, lab = pair
    metric = colorization_metrics("")["psnr"]
    both = torch.cat([lab[:2], lab_hat[2:]])
    metric.update(both, lab)
    cap = 10 * np.log10(12 * 255**2)  # MSE floored at (1/255)^2 / 12, uniform 8-bit rounding noise
    to_rgb = lambda t: np.clip(lab2rgb(t.permute(1, 2, 0).double().numpy()), 0, 1)
    per_image = [peak_signal_noise_ratio(to_rgb(a), to_rgb(b), data_range=1.0) for a, b in zip(lab[2:], lab_hat[2:])]
    assert metric.compute().item() == pytest.approx(np.mean([cap, cap, *per_image]), abs=1e-3)
    assert cap == pytest.approx(58.92, abs=0.01)


# ------------------------------------------------------------------------------ the literature's metrics
def _srgb(t: torch.Tensor) -> np.ndarray:
    """(3, H, W) Lab tensor -> (H, W, 3) sRGB in [0, 1] by skimage."""
    return np.clip(lab2rgb(t.permute(1, 2, 0).double().numpy()), 0, 1)


@pytest.fixture
def gamut_pair():
    """Truth and prediction both from sRGB colours (in gamut), so sklearn's nearest bin centre is the bin."""
    g = torch.Generator().manual_seed(3)
    rgb = torch.rand(4, 3, 12, 14, generator=g)
    rgb_hat = (0.7 * rgb + 0.3 * torch.rand(4, 3, 12, 14, generator=g)).clamp(0, 1)
    lab, lab_hat = color.rgb_to_lab(rgb), color.rgb_to_lab(rgb_hat)
    lab_hat[:, :1] = lab[:, :1]
    return lab_hat, lab


def _sklearn_bins(ab: torch.Tensor) -> np.ndarray:
    nearest = NearestNeighbors(n_neighbors=1).fit(color.ab_bins().numpy())
    return nearest.kneighbors(ab.permute(0, 2, 3, 1).reshape(-1, 2).numpy(), return_distance=False)[:, 0]


def _pixel_errors(lab_hat, lab) -> np.ndarray:
    d = (lab_hat[:, 1:] - lab[:, 1:]).double().numpy()
    return np.sqrt((d**2).sum(axis=1))  # (B, H, W)


def test_ssim_is_skimage_gaussian_ssim_averaged():
    g = torch.Generator().manual_seed(7)
    rgb = torch.nn.functional.avg_pool2d(torch.rand(3, 3, 66, 66, generator=g), 3, stride=1)  # (3, 3, 64, 64)
    lab = color.rgb_to_lab(rgb)
    lab_hat = lab.clone()
    lab_hat[:, 1:] += torch.randn(3, 2, 64, 64, generator=g) * 6
    metric = metrics.SSIM()
    metric.update(lab_hat, lab)
    expected = np.mean([structural_similarity(_srgb(a), _srgb(b), channel_axis=2, data_range=1.0, gaussian_weights=True,
                                              sigma=1.5, use_sample_covariance=False) for a, b in zip(lab_hat, lab)])  # fmt: skip
    assert metric.compute().item() == pytest.approx(expected, abs=1e-3)


def test_ssim_per_image_matches_skimage_on_small_non_square_images():
    """(torchmetrics' SSIM is 0.014 off skimage's on these 21 x 29 images; colorlab's matches skimage.)"""
    g = torch.Generator().manual_seed(8)
    rgb = torch.nn.functional.avg_pool2d(torch.rand(4, 3, 23, 31, generator=g), 3, stride=1)  # (4, 3, 21, 29)
    rgb_hat = (rgb + torch.randn(rgb.shape, generator=g) * 0.05).clamp(0, 1)
    rgb_hat[0] = rgb[0]  # an exact pair scores 1
    got = metrics.ssim(rgb_hat, rgb)
    expected = [structural_similarity(a.permute(1, 2, 0).double().numpy(), b.permute(1, 2, 0).double().numpy(),
                                      channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False) for a, b in zip(rgb_hat, rgb)]  # fmt: skip
    np.testing.assert_allclose(got.numpy(), expected, atol=2e-5)
    assert got[0].item() == pytest.approx(1.0, abs=1e-6) and got[1:].max() < 0.99
    with pytest.raises(ValueError, match="11 pixels"):
        metrics.ssim(rgb[..., :10], rgb[..., :10])


def test_bin_accuracy_of_decoded_ab_against_sklearn(gamut_pair):
    lab_hat, lab = gamut_pair
    metric = metrics.BinAccuracy()
    metric.update(lab_hat, lab)
    expected = np.mean(_sklearn_bins(lab_hat[:, 1:]) == _sklearn_bins(lab[:, 1:]))
    assert 0.05 < expected < 0.95 and metric.compute().item() == pytest.approx(expected)


def test_soft_cross_entropy_against_a_dense_sklearn_soft_encoding(gamut_pair):
    _, lab = gamut_pair
    ab = lab[:, 1:]
    q = color.ab_bins().shape[0]
    logits = torch.randn(ab.shape[0], q, *ab.shape[2:], generator=torch.Generator().manual_seed(4))
    points = ab.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    dist, idx = NearestNeighbors(n_neighbors=10).fit(color.ab_bins().double().numpy()).kneighbors(points)
    w = np.exp(-(dist**2) / (2 * 5.0**2))
    w /= w.sum(axis=1, keepdims=True)
    z = logits.permute(0, 2, 3, 1).reshape(-1, q).double().numpy()
    log_p = z - z.max(axis=1, keepdims=True) - np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
    expected = -(w * np.take_along_axis(log_p, idx, axis=1)).sum(axis=1).mean()
    metric = metrics.CrossEntropy()
    metric.update(logits, ab)
    assert metric.compute().item() == pytest.approx(expected, rel=1e-4)


def test_auc_hand_worked_values():
    ab = torch.zeros(1, 2, 2, 2)
    hist = lambda shift: metrics.error_histogram(ab + shift, ab)
    assert metrics.auc_from_histogram(hist(0.0)).item() == pytest.approx(1.0)
    assert metrics.auc_from_histogram(hist(200.0)).item() == pytest.approx(0.0)
    # every error 0.5 (a = 0.3, b = 0.4): not within t = 0, within every t >= 1; area 0.5 + 149
    half = torch.tensor([0.3, 0.4]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    assert metrics.auc_from_histogram(hist(half)).item() == pytest.approx(149.5 / 150)
    # every error exactly 75 (a = 45, b = 60): F(t) = 0 below 75, 1 from 75; trapezoid area 0.5 + 75
    shifted = torch.tensor([45.0, 60.0]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    assert metrics.auc_from_histogram(hist(shifted)).item() == pytest.approx(75.5 / 150)


def test_auc_plain_and_rebalanced_against_numpy(gamut_pair):
    lab_hat, lab = gamut_pair
    lab_hat = lab_hat.clone()
    lab_hat[:, 1:] *= 3.0  # spread the errors over the 0..150 range
    e = _pixel_errors(lab_hat, lab).ravel()
    prior = torch.rand(color.ab_bins().shape[0], generator=torch.Generator().manual_seed(5)).double() + 0.01
    prior /= prior.sum()
    w = 1.0 / prior.numpy()[_sklearn_bins(lab[:, 1:])]
    thresholds = np.arange(151)
    cdf = np.array([(e <= t).mean() for t in thresholds])
    cdf_w = np.array([(w * (e <= t)).sum() / w.sum() for t in thresholds])
    plain, rebal = metrics.AuC(), metrics.AuC(prior)
    for part_hat, part in zip(lab_hat.split([1, 3]), lab.split([1, 3])):  # batched == one-shot
        plain.update(part_hat, part)
        rebal.update(part_hat, part)
    assert plain.compute().item() == pytest.approx(np.trapezoid(cdf) / 150, abs=1e-6)
    assert rebal.compute().item() == pytest.approx(np.trapezoid(cdf_w) / 150, abs=1e-6)
    assert abs(np.trapezoid(cdf) - np.trapezoid(cdf_w)) > 1  # the weights matter


def _pa_reference(ab_hat: np.ndarray, ab: np.ndarray, thresh: float) -> float:
    """The SRM review's PA, pixel by pixel: consistent = every valid 4-neighbour closer than thresh."""
    def consistent(x, i, j):
        h, w = x.shape[1:]
        neigh = [(i + di, j + dj) for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)) if 0 <= i + di < h and 0 <= j + dj < w]
        return all(np.linalg.norm(x[:, i, j] - x[:, a, b]) < thresh for a, b in neigh)

    ratios = []
    for x_hat, x in zip(ab_hat, ab):
        truth = [[consistent(x, i, j) for j in range(x.shape[2])] for i in range(x.shape[1])]
        both = [[truth[i][j] and consistent(x_hat, i, j) for j in range(x.shape[2])] for i in range(x.shape[1])]
        if np.sum(truth):
            ratios.append(np.sum(both) / np.sum(truth))
    return float(np.mean(ratios))


def test_pixel_consistency_hand_worked():
    ab = torch.zeros(1, 2, 3, 3)  # flat truth: every pixel consistent
    ab_hat = ab.clone()
    ab_hat[0, 0, 1, 1] = 10.0  # one bright centre: it and its 4 neighbours are inconsistent, the 4 corners are not
    ratio, valid = metrics.pixel_consistency(ab_hat, ab, threshold=5.0)
    assert valid.item() and ratio.item() == pytest.approx(4 / 9)
    ratio, valid = metrics.pixel_consistency(ab, ab_hat, threshold=5.0)  # truth: only the corners count
    assert ratio.item() == pytest.approx(1.0)


def test_pixel_consistency_without_a_consistent_truth_pixel_is_one():
    """A checkerboard of ab 20 apart: no truth pixel is consistent, the per-image ratio is flagged invalid and
    the metric, having nothing to average, is 1.0 (documented), not NaN; a valid image later counts alone."""
    checker = (torch.arange(4)[:, None] + torch.arange(4)) % 2 * 20.0  # (4, 4)
    lab = torch.stack([torch.full((4, 4), 50.0), checker, checker])[None]  # (1, 3, 4, 4)
    ratio, valid = metrics.pixel_consistency(lab[:, 1:], lab[:, 1:])
    assert not valid.item() and ratio.item() == 0.0
    metric = metrics.PixelConsistency()
    metric.update(lab, lab)
    assert metric.compute().item() == 1.0
    flat = torch.zeros(1, 3, 4, 4)
    noisy = flat.clone()
    noisy[0, 1, 1, 1] = 10.0  # the pixel and its 4 neighbours turn inconsistent: 11 of 16 stay consistent
    metric.update(noisy, flat)
    assert metric.compute().item() == pytest.approx(11 / 16)


def test_pixel_consistency_against_a_per_pixel_reference():
    g = torch.Generator().manual_seed(6)
    blocks = lambda: torch.rand(3, 3, 4, 4, generator=g).repeat_interleave(3, 2).repeat_interleave(3, 3)  # 12x12
    noisy = lambda rgb: color.rgb_to_lab((rgb + 0.02 * torch.randn(rgb.shape, generator=g)).clamp(0, 1))
    truth = blocks()
    lab, lab_hat = noisy(truth), noisy(torch.where(torch.rand(truth.shape, generator=g) < 0.05, blocks(), truth))
    metric = metrics.PixelConsistency(threshold=6.0)
    metric.update(lab_hat, lab)
    expected = _pa_reference(lab_hat[:, 1:].double().numpy(), lab[:, 1:].double().numpy(), 6.0)
    assert 0 < expected < 1 and metric.compute().item() == pytest.approx(expected)


def test_colorfulness_hand_worked_and_against_numpy(pair):
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1.0  # rg = 255, yb = 127.5, no spread: M = 0.3 * sqrt(255^2 + 127.5^2)
    assert metrics.colorfulness(red).item() == pytest.approx(0.3 * np.hypot(255, 127.5))
    assert metrics.colorfulness(torch.full((1, 3, 4, 4), 0.4)).item() == pytest.approx(0.0)
    lab_hat, lab = pair

    def hasler(rgb):
        r, g, b = (255 * rgb).transpose(2, 0, 1)
        rg, yb = r - g, 0.5 * (r + g) - b
        return np.sqrt(np.std(rg) ** 2 + np.std(yb) ** 2) + 0.3 * np.sqrt(np.mean(rg) ** 2 + np.mean(yb) ** 2)

    pred = np.mean([hasler(_srgb(t)) for t in lab_hat])
    true = np.mean([hasler(_srgb(t)) for t in lab])
    for which, expected in (("pred", pred), ("true", true), ("ratio", pred / true)):
        metric = metrics.Colorfulness(which)
        metric.update(lab_hat, lab)
        assert metric.compute().item() == pytest.approx(expected, rel=1e-3), which


def test_per_image_rmse_distribution_against_numpy(pair):
    lab_hat, lab = pair
    expected = np.sqrt((_pixel_errors(lab_hat, lab) ** 2).mean(axis=(1, 2)))
    metric = metrics.ImageRMSE()
    for part_hat, part in zip(lab_hat.split([2, 4]), lab.split([2, 4])):
        metric.update(part_hat, part)
    np.testing.assert_allclose(metric.distribution().numpy(), expected, rtol=1e-5)
    assert metric.compute().item() == pytest.approx(expected.mean(), rel=1e-5)


def test_every_state_is_reduced_across_processes():
    """DDP: each state has a reduction (sum or cat), so merged processes equal one process."""
    collections = [metrics.colorization_metrics("", prior=torch.full((color.ab_bins().shape[0],), 1.0)),
                   metrics.classifier_metrics("")]  # fmt: skip
    for collection in collections:
        for name, metric in collection.items():
            assert metric._reductions and all(fn is not None for fn in metric._reductions.values()), name

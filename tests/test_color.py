"""The colour core against outside references: skimage for Lab, sklearn for nearest bins, hand-worked values."""

import math

import numpy as np
import pytest
import torch
from skimage import color as skcolor
from sklearn.neighbors import NearestNeighbors

from colorlab import color

SPECIAL = [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1], [0.5, 0.5, 0.5]]


def as_image(points: np.ndarray) -> torch.Tensor:
    """(N, 3) -> (1, 3, N, 1) float32."""
    return torch.from_numpy(np.asarray(points, dtype=np.float32)).T[None, :, :, None]


def as_points(image: torch.Tensor) -> np.ndarray:
    return image[0, :, :, 0].T.double().numpy()


@pytest.fixture(scope="module")
def colours() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.random((2000, 3)), SPECIAL])


def test_rgb_to_lab_matches_skimage(colours):
    ours = as_points(color.rgb_to_lab(as_image(colours)))
    assert np.abs(ours - skcolor.rgb2lab(colours.astype(np.float32).astype(np.float64))).max() < 1e-3


def test_special_colours_by_hand():
    lab = as_points(color.rgb_to_lab(as_image(SPECIAL[:2])))
    np.testing.assert_allclose(lab[0], [0, 0, 0], atol=1e-3)  # black
    # D65 white: kornia and skimage both give ab ~ (-0.002, 0.005) from the rounded white point
    np.testing.assert_allclose(lab[1], [100, 0, 0], atol=1e-2)


def test_lab_to_rgb_matches_skimage_and_round_trips(colours):
    lab = skcolor.rgb2lab(colours)
    rgb = as_points(color.lab_to_rgb(as_image(lab)))
    assert np.abs(rgb - skcolor.lab2rgb(lab)).max() < 1e-3 / 100  # 1e-3 Lab units is ~1e-5 in RGB
    round_trip = as_points(color.rgb_to_lab(color.lab_to_rgb(as_image(lab))))
    assert np.abs(round_trip - lab).max() < 1e-3


def test_conversion_stays_float32_under_autocast():
    rgb = torch.rand(2, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lab = color.rgb_to_lab(rgb.bfloat16())
        back = color.lab_to_rgb(lab)
    assert lab.dtype == back.dtype == torch.float32
    assert (back - rgb).abs().max() < 1e-2  # bf16 input rounding only


def test_lab8_decoding_is_opencv_encoding():
    lab8 = torch.tensor([255, 128, 0], dtype=torch.uint8).view(1, 3, 1, 1)
    assert color.lab8_to_lab(lab8).flatten().tolist() == [100.0, 0.0, -128.0]


def test_normalisation_round_trip_and_scale():
    lab = torch.tensor([50.0, 64.0, -128.0]).view(1, 3, 1, 1)
    x_l, y_ab = color.normalize(lab)
    assert x_l.item() == 0.5 and y_ab.flatten().tolist() == [0.5, -1.0]  # L/100, ab/128
    assert torch.equal(color.denormalize(x_l, y_ab), lab)


@pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.rand(1, 4, 8, 8)])
def test_bad_shapes_are_named(bad):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\), got"):
        color.rgb_to_lab(bad)


@pytest.mark.slow
def test_bins_are_exactly_the_cells_skimage_reaches_from_every_8bit_colour():
    """Every 8-bit sRGB colour (2^24, converted by skimage) falls in a bin's cell, and every bin is reached."""
    levels = np.arange(256) / 255.0
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    reached = set()
    for part in np.array_split(cube, 64):
        cells = np.floor(skcolor.rgb2lab(part)[:, 1:] / 10 + 0.5).astype(int)  # cell c covers [c-5, c+5)
        reached.update(map(tuple, np.unique(cells, axis=0)))
    bins = set(map(tuple, (color.ab_bins() / 10).round().long().tolist()))
    assert reached == bins


def test_bins_lie_on_the_grid():
    bins = color.ab_bins()
    assert bins.shape[1] == 2 and 250 < bins.shape[0] < 330
    assert torch.all(bins % 10 == 0) and bins.abs().max() <= 110
    assert len({tuple(b) for b in bins.tolist()}) == bins.shape[0]


def test_nearest_bin_matches_sklearn_inside_the_gamut():
    rgb = torch.rand(1, 3, 32, 32)
    ab = color.rgb_to_lab(rgb)[:, 1:]
    nn = NearestNeighbors(n_neighbors=1).fit(color.ab_bins().numpy())
    expected = nn.kneighbors(ab[0].reshape(2, -1).T.numpy(), return_distance=False)[:, 0]
    assert np.array_equal(color.nearest_bin(ab).flatten().numpy(), expected)


@pytest.mark.parametrize("k,sigma", [(10, 5.0), (5, 5.0), (3, 8.0)])
def test_soft_encode_matches_sklearn(k, sigma):
    g = torch.Generator().manual_seed(k)
    ab = (torch.rand(2, 2, 6, 5, generator=g) - 0.5) * 200  # inside and outside the gamut
    idx, weight = color.soft_encode(ab, k=k, sigma=sigma, chunk=7)  # small chunks exercise the loop
    points = ab.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    dist, ref_idx = NearestNeighbors(n_neighbors=k).fit(color.ab_bins().double().numpy()).kneighbors(points)
    ref_w = np.exp(-(dist**2) / (2 * sigma**2))
    ref_w /= ref_w.sum(1, keepdims=True)
    ours_idx = idx.permute(0, 2, 3, 1).reshape(-1, k).numpy()
    ours_w = weight.permute(0, 2, 3, 1).reshape(-1, k).double().numpy()
    assert np.array_equal(np.sort(ours_idx, 1), np.sort(ref_idx, 1))
    order = lambda i, w: w[np.arange(len(w))[:, None], np.argsort(i, 1)]
    np.testing.assert_allclose(order(ours_idx, ours_w), order(ref_idx, ref_w), atol=1e-5)


def _logits(probs: list[float], where: list[int]) -> torch.Tensor:
    q = color.ab_bins().shape[0]
    p = torch.full((q,), 1e-12)
    p[where] = torch.tensor(probs)
    return p.log().view(1, q, 1, 1)


def test_decode_mode_mean_and_annealing_on_hand_built_distributions():
    bins = color.ab_bins()
    i, j = 0, bins.shape[0] - 1
    logits = _logits([0.7, 0.3], [i, j])
    point = lambda ab: ab.flatten()
    assert torch.equal(point(color.decode(logits, "mode")), bins[i])
    assert torch.allclose(point(color.decode(logits, "mean")), 0.7 * bins[i] + 0.3 * bins[j], atol=1e-4)
    assert torch.allclose(point(color.decode(logits, "annealed_mean", 1.0)), point(color.decode(logits, "mean")))
    assert torch.allclose(point(color.decode(logits, "annealed_mean", 0.01)), bins[i], atol=1e-3)
    # T = 0.38 by hand: weights 0.7^(1/T) and 0.3^(1/T), renormalised
    a, b = 0.7 ** (1 / 0.38), 0.3 ** (1 / 0.38)
    expected = (a * bins[i] + b * bins[j]) / (a + b)
    assert torch.allclose(point(color.decode(logits, "annealed_mean")), expected, atol=1e-3)


def test_decode_sampling_follows_the_distribution():
    bins = color.ab_bins()
    logits = _logits([0.25, 0.75], [3, 7]).expand(1, -1, 100, 100)
    torch.manual_seed(0)
    drawn = color.decode(logits, "sample").permute(0, 2, 3, 1).reshape(-1, 2)
    share = (drawn == bins[7]).all(dim=1).float().mean().item()
    assert abs(share - 0.75) < 0.02 and ((drawn == bins[3]).all(1) | (drawn == bins[7]).all(1)).all()


def test_decode_rejects_bad_input():
    with pytest.raises(ValueError, match="Q="):
        color.decode(torch.zeros(1, 5, 2, 2))
    with pytest.raises(ValueError, match="how must be"):
        color.decode(torch.zeros(1, color.ab_bins().shape[0], 2, 2), "median")


def test_smooth_prior_by_hand():
    """All mass on bin (0, 0): with sigma = 5 a neighbour at distance 10 gets exp(-100/50) = exp(-2),
    a diagonal one exp(-4), one at distance 20 exp(-8), relative to the bin itself."""
    bins = color.ab_bins()
    at = lambda a, b: int(((bins - torch.tensor([a, b])).abs().sum(1) == 0).nonzero())
    counts = torch.zeros(bins.shape[0], dtype=torch.float64)
    counts[at(0, 0)] = 40
    p = color.smooth_prior(counts, sigma=5.0)
    assert math.isclose(p.sum().item(), 1.0, rel_tol=1e-9)
    centre = p[at(0, 0)].item()
    assert math.isclose(p[at(10, 0)].item() / centre, math.exp(-2), rel_tol=1e-9)
    assert math.isclose(p[at(-10, 10)].item() / centre, math.exp(-4), rel_tol=1e-9)
    assert math.isclose(p[at(0, -20)].item() / centre, math.exp(-8), rel_tol=1e-9)
    # normaliser by hand: 1 + 4 e^-2 + 4 e^-4 + 4 e^-8 + 8 e^-10 + ... (all of the grid is in gamut near 0)
    d2 = (bins.double() ** 2).sum(1)
    assert math.isclose(centre, 1 / torch.exp(-d2 / 50).sum().item(), rel_tol=1e-9)


def test_rebalance_weights_by_hand():
    """p = (0.5, 0.25, 0.25, 0), lambda = 0.5: raw w = 1 / (0.5 p + 0.125) = (8/3, 4, 4, 8); E_p[w] = 10/3,
    so w = (0.8, 1.2, 1.2, 2.4)."""
    w = color.rebalance_weights(torch.tensor([0.5, 0.25, 0.25, 0.0]), lam=0.5)
    assert torch.allclose(w, torch.tensor([0.8, 1.2, 1.2, 2.4]))
    assert torch.allclose(color.rebalance_weights(torch.tensor([0.5, 0.25, 0.25, 0.0]), lam=1.0), torch.ones(4))


def test_bin_counts_count_every_pixel():
    ab = torch.tensor([[0.0, 0.0], [4.9, -4.9], [20.0, 30.0]]).T.reshape(1, 2, 3, 1)
    counts = color.bin_counts(ab)
    bins = color.ab_bins()
    assert counts.sum() == 3
    assert counts[((bins == 0).all(1)).nonzero().item()] == 2
    assert counts[((bins == torch.tensor([20.0, 30.0])).all(1)).nonzero().item()] == 1

"""Every fast path gives the values of its plain reference: soft-encoding against sklearn's nearest
neighbours, the sparse cross-entropy against a dense target, ... (speed is measured in benchmarks/, never here)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.neighbors import NearestNeighbors

from colorlab import color
from colorlab.objectives import SparseCrossEntropy

BINS = color.ab_bins().double().numpy()
Q = BINS.shape[0]


@pytest.fixture(params=["compiled", "torch"])
def encoder(request, monkeypatch):
    """Soft-encode through the compiled CPU pass, and through the PyTorch ops that other devices run (here by a
    compiled pass that leaves every point to them)."""
    if request.param == "torch":

        def leave_all(points, k, sigma):
            n = points.shape[1]
            return torch.empty(k, n, dtype=torch.long), torch.empty(k, n), torch.arange(n)

        monkeypatch.setattr(color, "_encode_compiled", leave_all)
    return request.param


def reference_knn(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's exact k nearest bins in float64: (N, k) distances and indices, nearest first."""
    return NearestNeighbors(n_neighbors=k, algorithm="brute").fit(BINS).kneighbors(points)


def encode_points(points: np.ndarray, k: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    ab = torch.from_numpy(points.T.astype(np.float32).reshape(1, 2, 1, -1))
    idx, weight = color.soft_encode(ab, k=k, **kwargs)
    return idx[0, :, 0].T.numpy(), weight[0, :, 0].T.double().numpy()


def assert_same_neighbours(points: np.ndarray, k: int, **kwargs) -> None:
    """Same neighbour sets as sklearn, up to bins tied at the k-th distance; Gaussian weights to 1e-5."""
    idx, weight = encode_points(points, k, **kwargs)
    dist, ref = reference_knn(points.astype(np.float32).astype(np.float64), k)
    assert (np.sort(idx, 1)[:, 1:] != np.sort(idx, 1)[:, :-1]).all(), "a bin was chosen twice"
    ours = np.sqrt(((points.astype(np.float32)[:, None, :] - BINS[idx]) ** 2).sum(-1))
    np.testing.assert_allclose(np.sort(ours, 1), dist, atol=1e-4)  # the k nearest distances
    untied = dist[:, -1] < reference_knn(points.astype(np.float32).astype(np.float64), k + 1)[0][:, -1] - 1e-4
    assert np.array_equal(np.sort(idx[untied], 1), np.sort(ref[untied], 1))
    expected = np.exp(-(ours**2) / (2 * 5.0**2))
    np.testing.assert_allclose(weight, expected / expected.sum(1, keepdims=True), atol=1e-5)


def test_soft_encode_real_colours_match_sklearn(encoder):
    """Every pixel of random sRGB images, as training sees them (plus their 4x area averages)."""
    rgb = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ab = color.rgb_to_lab(rgb)[:, 1:]
    for image in (ab, F.avg_pool2d(ab, 4)):
        assert_same_neighbours(image.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy(), 10)


@pytest.mark.parametrize("k", [1, 3, 10, 20])
def test_soft_encode_any_point_of_the_table_matches_sklearn(k, encoder):
    """Uniform points over the whole table, inside and outside the gamut, for several k."""
    points = np.random.default_rng(k).uniform(-115, 115, size=(4000, 2))
    assert_same_neighbours(points, k)


def test_soft_encode_sub_cell_edges_and_exact_ties(encoder):
    """Points on sub-cell edges (multiples of 0.625) and on the bin grid itself, where many bins tie."""
    edges = np.arange(-115, 115, 0.625)
    rng = np.random.default_rng(1)
    on_edges = np.stack([rng.choice(edges, 2000), rng.choice(edges, 2000)], 1)
    grid = np.stack(np.meshgrid(np.arange(-110, 111, 5.0), np.arange(-110, 111, 5.0)), -1).reshape(-1, 2)
    assert_same_neighbours(np.concatenate([on_edges, grid]), 10)


def test_soft_encode_weights_to_float32_precision(encoder):
    """Points on a quarter-unit lattice have exact float32 squared distances, so the weights are off only by
    the exp and the normalisation: 2e-6 relative wherever a weight matters (>= 1e-4)."""
    points = np.random.default_rng(4).integers(-440, 440, size=(3000, 2)) / 4.0
    idx, weight = encode_points(points, 10)
    expected = np.exp(-((points[:, None, :] - BINS[idx]) ** 2).sum(-1) / (2 * 5.0**2))
    expected /= expected.sum(1, keepdims=True)
    big = expected >= 1e-4
    np.testing.assert_allclose(weight[big], expected[big], rtol=2e-6)


def test_soft_encode_beyond_the_table_and_in_small_chunks(encoder):
    """Points past the table's [-115, 115)^2 take the full search; small chunks mix both paths."""
    points = np.random.default_rng(2).uniform(-160, 160, size=(600, 2))
    assert_same_neighbours(points, 10, chunk=64)
    assert_same_neighbours(points, 40)  # beyond the table's k range: full search


def test_soft_encode_layout_and_dtypes(encoder):
    ab = (torch.rand(3, 2, 5, 7, generator=torch.Generator().manual_seed(3)) - 0.5) * 150
    idx, weight = color.soft_encode(ab)
    assert idx.shape == weight.shape == (3, 10, 5, 7) and idx.dtype == torch.long and weight.dtype == torch.float32
    # pixel (b, :, y, x) of the batch is the encoding of that pixel alone
    alone_idx, alone_w = color.soft_encode(ab[2:3, :, 4:5, 6:7])
    assert torch.equal(idx[2, :, 4, 6].sort()[0], alone_idx.flatten().sort()[0])
    assert torch.allclose(weight[2, :, 4, 6].sort()[0], alone_w.flatten().sort()[0])
    # a channels_last input (what LitColorizer's loss gets by default) encodes the same
    nhwc_idx, nhwc_w = color.soft_encode(ab.contiguous(memory_format=torch.channels_last))
    assert torch.equal(nhwc_idx, idx) and torch.equal(nhwc_w, weight)


def sparse_case(b=2, h=6, w=5, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(b, Q, h, w, generator=g) * 3).to(dtype).requires_grad_()
    ab = color.rgb_to_lab(torch.rand(b, 3, h, w, generator=g))[:, 1:]
    idx, weight = color.soft_encode(ab)
    dense = torch.zeros(b, Q, h, w).scatter_(1, idx, weight)  # (B, Q, h, w) soft target
    return logits, idx, weight, dense


@pytest.mark.parametrize("block", [16384, 7])  # one block per image; blocks of one row
def test_sparse_cross_entropy_equals_dense_cross_entropy(block, monkeypatch):
    monkeypatch.setattr(SparseCrossEntropy, "BLOCK", block)
    logits, idx, weight, dense = sparse_case()
    g = torch.rand(2, 6, 5, generator=torch.Generator().manual_seed(9))  # an arbitrary upstream gradient
    ours = SparseCrossEntropy.apply(logits, idx, weight)
    (ours * g).sum().backward()
    grad_ours, logits.grad = logits.grad, None
    reference = F.cross_entropy(logits, dense, reduction="none")  # torch's soft-target cross-entropy
    (reference * g).sum().backward()
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad_ours, logits.grad, rtol=1e-5, atol=1e-6)


def test_sparse_cross_entropy_in_bfloat16_keeps_the_dtype():
    logits, idx, weight, dense = sparse_case(dtype=torch.bfloat16)
    ours = SparseCrossEntropy.apply(logits, idx, weight)
    ours.sum().backward()
    assert logits.grad.dtype == torch.bfloat16
    reference_logits = logits.detach().float().requires_grad_()
    reference = F.cross_entropy(reference_logits, dense, reduction="none")
    reference.sum().backward()
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits.grad.float(), reference_logits.grad, rtol=2e-2, atol=2e-3)


def test_rgb8_to_lab_equals_kornia_on_every_level_and_skimage_on_photos():
    """The uint8 fast path against the float path (kornia) on all 256 levels of every channel (and mixes),
    and against skimage, the outside reference, within 1e-3 Lab units."""
    from skimage import color as skcolor

    g = torch.Generator().manual_seed(4)
    levels = torch.arange(256, dtype=torch.uint8)
    rgb8 = torch.cat([
        torch.stack([levels, levels.flip(0), levels.roll(77)]).view(1, 3, 16, 16),
        torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8, generator=g),
    ])
    ours = color.rgb8_to_lab(rgb8)
    torch.testing.assert_close(ours, color.rgb_to_lab(rgb8.float() / 255), rtol=0, atol=2e-4)
    reference = skcolor.rgb2lab(rgb8.permute(0, 2, 3, 1).numpy())
    assert np.abs(ours.permute(0, 2, 3, 1).double().numpy() - reference).max() < 1e-3
    assert torch.equal(color.batch_to_lab({"rgb": rgb8}), ours)


def test_unet_out_stride_computes_the_full_nets_features_at_that_level():
    """UNet(out_stride=2) is the report's U-Net without its last decoder block: with the same weights its
    head reads exactly what the full net's block 7 produces, and a LitColorizer around it still colorizes
    at the input's resolution (ab upsampled)."""
    from colorlab.models import UNet
    from colorlab.module import LitColorizer
    from colorlab.objectives import Classification

    torch.manual_seed(0)
    full, short = UNet(5, width=4), UNet(5, width=4, out_stride=2)
    shared = {k: v for k, v in full.state_dict().items() if not k.startswith(("head", "up.3", "decoder.3"))}
    assert short.load_state_dict(shared, strict=False).missing_keys == ["head.weight", "head.bias"]
    seen = {}
    full.decoder[2].register_forward_hook(lambda m, i, o: seen.__setitem__("full", o))
    short.decoder[2].register_forward_hook(lambda m, i, o: seen.__setitem__("short", o))
    full.eval(), short.eval()
    x_l = torch.rand(2, 1, 32, 48)
    assert full(x_l).shape == (2, 5, 32, 48) and short(x_l).shape == (2, 5, 16, 24)
    torch.testing.assert_close(seen["short"], seen["full"])
    model = LitColorizer(lambda q: UNet(q, width=4, out_stride=4), Classification())
    assert model(torch.rand(1, 1, 20, 36)).shape == (1, color.ab_bins().shape[0], 5, 9)
    assert model.colorize(torch.rand(1, 1, 20, 36)).shape == (1, 3, 20, 36)
    with pytest.raises(ValueError, match="out_stride must be 1, 2, 4 or 8, got 3"):
        UNet(2, out_stride=3)

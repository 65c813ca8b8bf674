"""Objectives against dense references built independently (numpy + sklearn), never against themselves."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.neighbors import NearestNeighbors

from colorlab import color
from colorlab.objectives import Classification, Regression

Q = color.ab_bins().shape[0]


def dense_soft_targets(ab_lab: torch.Tensor, k: int = 10, sigma: float = 5.0) -> np.ndarray:
    """(B, 2, h, w) Lab ab -> (B*h*w, Q) dense soft-encoded targets, from sklearn's k nearest bins."""
    points = ab_lab.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    dist, idx = NearestNeighbors(n_neighbors=k).fit(color.ab_bins().double().numpy()).kneighbors(points)
    w = np.exp(-(dist**2) / (2 * sigma**2))
    target = np.zeros((len(points), Q))
    np.put_along_axis(target, idx, w / w.sum(1, keepdims=True), axis=1)
    return target


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    y_ab = color.rgb_to_lab(torch.rand(2, 3, 8, 12, generator=g))[:, 1:] / color.AB_SCALE  # (2, 2, 8, 12)
    logits = torch.randn(2, Q, 2, 3, generator=g)  # a Zhang-style net: 1/4 resolution
    return y_ab, logits


def test_classification_cross_entropy_equals_dense_reference(batch):
    y_ab, logits = batch
    target_ab = F.avg_pool2d(y_ab, 4) * color.AB_SCALE  # the loss compares at the net's 1/4 resolution
    target = dense_soft_targets(target_ab)
    log_p = torch.log_softmax(logits.double(), 1).permute(0, 2, 3, 1).reshape(-1, Q).numpy()
    expected_ce = -(target * log_p).sum(1).mean()
    entropy = -(target * np.log(np.where(target > 0, target, 1))).sum(1).mean()
    assert Classification().loss(logits, y_ab).item() == pytest.approx(expected_ce, rel=1e-5)
    assert Classification(loss="kl").loss(logits, y_ab).item() == pytest.approx(expected_ce - entropy, rel=1e-5)


def test_rebalanced_loss_weights_each_pixel_by_its_nearest_bin(batch, tmp_path):
    y_ab, logits = batch
    prior = torch.rand(Q, dtype=torch.float64)
    prior /= prior.sum()
    path = tmp_path / "priors.pt"
    torch.save({"prior": prior}, path)
    target_ab = F.avg_pool2d(y_ab, 4) * color.AB_SCALE
    target = dense_soft_targets(target_ab)
    log_p = torch.log_softmax(logits.double(), 1).permute(0, 2, 3, 1).reshape(-1, Q).numpy()
    w = 1 / (0.5 * prior.numpy() + 0.5 / Q)
    w /= (prior.numpy() * w).sum()
    nearest = NearestNeighbors(n_neighbors=1).fit(color.ab_bins().numpy())
    q = nearest.kneighbors(target_ab.permute(0, 2, 3, 1).reshape(-1, 2).numpy(), return_distance=False)[:, 0]
    expected = (-(target * log_p).sum(1) * w[q]).mean()
    assert Classification(priors=str(path)).loss(logits, y_ab).item() == pytest.approx(expected, rel=1e-5)


def test_missing_or_wrong_priors_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="colorlab priors"):
        Classification(priors=str(tmp_path / "nope.pt"))
    torch.save({"counts": torch.ones(3)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a colorlab priors file"):
        Classification(priors=str(tmp_path / "bad.pt"))
    torch.save({"prior": torch.ones(3)}, tmp_path / "other_q.pt")
    with pytest.raises(ValueError, match="Q="):
        Classification(priors=str(tmp_path / "other_q.pt"))


@pytest.mark.parametrize("name,reference", [("mse", F.mse_loss), ("l1", F.l1_loss)])
def test_regression_loss_at_the_net_resolution(name, reference, batch):
    y_ab, _ = batch
    out = torch.randn(2, 2, 2, 3)
    expected = reference(out, y_ab.reshape(2, 2, 2, 4, 3, 4).mean(dim=(3, 5)))  # 4x4 block means by hand
    assert Regression(name).loss(out, y_ab).item() == pytest.approx(expected.item(), rel=1e-6)


def test_smooth_l1_is_huber_by_hand():
    out, target = torch.tensor([0.0, 0.0]).view(1, 2, 1, 1), torch.tensor([0.02, 0.5]).view(1, 2, 1, 1)
    # beta = 0.05: 0.5 * 0.02^2 / 0.05 = 0.004 (quadratic) and 0.5 - 0.025 = 0.475 (linear); mean 0.2395
    assert Regression("smooth_l1", beta=0.05).loss(out, target).item() == pytest.approx(0.2395)


def test_decode_returns_full_resolution_ab(batch):
    y_ab, logits = batch
    for objective, out in [(Classification(decoding="mode"), logits), (Regression(), torch.zeros(2, 2, 2, 3))]:
        ab = objective.decode(out, y_ab.shape[-2:])
        assert ab.shape == y_ab.shape and ab.dtype == torch.float32
    mode = Classification(decoding="mode").decode(logits, (2, 3))
    assert torch.equal(mode * color.AB_SCALE, color.ab_bins()[logits.argmax(1)].permute(0, 3, 1, 2))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"loss": "hinge"}, "loss must be"), ({"decoding": "median"}, "decoding must be"), ({"k": 0}, "k must be")],
)
def test_bad_classification_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Classification(**kwargs)


def test_prior_shift_decodes_logit_adjusted_probabilities_numpy_reference():
    """Annealed mean of softmax((z - s log p) / T), worked in numpy on one pixel; the loss is unchanged."""
    torch.manual_seed(0)
    prior = torch.rand(Q, dtype=torch.float64) + 0.01
    prior /= prior.sum()
    logits = torch.randn(1, Q, 1, 1) * 3
    shift, temperature = 0.4, 0.5
    objective = Classification(priors=prior.tolist(), lam=1.0, prior_shift=shift, temperature=temperature)
    z = (logits[0, :, 0, 0].double().numpy() - shift * np.log(prior.numpy())) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    expected = p @ color.ab_bins().double().numpy() / color.AB_SCALE  # (2,) ab/128
    np.testing.assert_allclose(objective.decode(logits, (1, 1))[0, :, 0, 0].numpy(), expected, atol=1e-5)
    plain = Classification(priors=prior.tolist(), lam=1.0, temperature=temperature)
    assert not torch.allclose(plain.decode(logits, (1, 1)), objective.decode(logits, (1, 1)))
    y_ab = torch.rand(1, 2, 1, 1) * 0.5 - 0.25
    assert objective.loss(logits, y_ab) == plain.loss(logits, y_ab) == Classification().loss(logits, y_ab)
    plain.set_decoding(prior_shift=shift)
    assert torch.equal(plain.decode(logits, (1, 1)), objective.decode(logits, (1, 1)))
    with pytest.raises(ValueError, match="needs the training priors"):
        Classification(prior_shift=0.5)

"""Colorization metrics: the maths in plain functions, the accumulation in torchmetrics ``Metric``s.

Every ``Metric`` here keeps sums (or, for per-image RMSE, a concatenated list) with a ``dist_reduce_fx``, so
results are exact under DDP and batched accumulation equals one pass over all images.

Units: ab errors in Lab units (``ab_l1``: mean absolute error; ``ab_mse``: mean squared error, Lab units
squared; ``rmse``: per-image RMS ab error) and in the literature's ab/128 units (``ab_l1_n``, ``ab_mse_n``;
the Stanford report's Table 1 "L1" / "L2" are in these units). ``psnr`` in dB and ``ssim`` on sRGB.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import Metric, MetricCollection
from torchmetrics.utilities import dim_zero_cat

from colorlab import color
from colorlab._private import tensor_version
from colorlab.errors import ColorlabError

AUC_MAX_THRESHOLD = 150  # Zhang et al. 2016, sec. 3.1: thresholds 0..150 Lab units, step 1
PA_THRESHOLD = 5.0  # Lab units; the SRM review leaves it "user-defined": half of colorlab's 10-unit bin grid
# The MSE of uniform 8-bit rounding noise, (1/255)^2 / 12: an image predicted within rounding of the truth
# is as good as an exact one, so PSNR is capped at 10 log10(12 * 255^2) = 58.92 dB and stays finite.
PSNR_MSE_FLOOR = (1.0 / 255.0) ** 2 / 12.0


_recent: dict[str, list[tuple[torch.Tensor, int, torch.Tensor]]] = {}


def _shared(fn, x: torch.Tensor) -> torch.Tensor:
    """``fn(x)``, reusing the result for the same unmodified tensor: one update of a collection converts
    lab_hat and lab to sRGB once for PSNR, SSIM and the three colourfulness metrics, not five times each."""
    recent = _recent.setdefault(fn.__name__, [])
    version = tensor_version(x)
    for seen, seen_version, result in recent:
        if seen is x and seen_version == version:
            return result
    result = fn(x)
    recent[:] = [(x, version, result), *recent][:2]  # the last update's prediction and truth
    return result


def _srgb(lab: torch.Tensor) -> torch.Tensor:
    return _shared(color.lab_to_rgb, lab)


def _check_pair(x_hat: torch.Tensor, x: torch.Tensor, names: str) -> None:
    if x_hat.shape != x.shape:
        raise ColorlabError(f"{names} must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")


class _Mean(Metric):
    """A running ratio ``total / count`` of float64 sums (DDP: both summed over processes)."""

    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def _add(self, total: torch.Tensor, count: float | torch.Tensor) -> None:
        self.total += total.double()
        self.count += count

    def compute(self) -> torch.Tensor:
        return (self.total / self.count).float()


# ------------------------------------------------------------------------------ ab errors
def ab_error(ab_hat: torch.Tensor, ab: torch.Tensor, p: int = 1) -> torch.Tensor:
    """Mean absolute (p=1) or squared (p=2) error over every pixel and both channels.

    Args:
        ab_hat, ab: (B, 2, H, W) float, same units (the result is in those units, squared for p=2).
    """
    _check_pair(ab_hat, ab, "ab_hat and ab")
    if p not in (1, 2):
        raise ColorlabError(f"p must be 1 or 2, got {p}")
    return (ab_hat.float() - ab.float()).abs().pow(p).mean()


class ABError(_Mean):
    """Running ``ab_error`` over many batches (pixel-weighted).

    Args:
        p: 1 for mean absolute error, 2 for mean squared error.
        scale: ab units of the inputs are divided by this (1: Lab units; 128: the literature's ab/128).
    """

    higher_is_better = False

    def __init__(self, p: int = 1, scale: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if p not in (1, 2):
            raise ColorlabError(f"p must be 1 or 2, got {p}")
        self.p, self.scale = p, scale

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        """lab_hat, lab: (B, 3, H, W) Lab; only the ab channels are compared."""
        ab_hat, ab = lab_hat[:, 1:] / self.scale, lab[:, 1:] / self.scale
        self._add(ab_error(ab_hat, ab, self.p).double() * ab.numel(), ab.numel())


def pixel_ab_distance(ab_hat: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Euclidean ab error of each pixel, (B, H, W) float32 in Lab units, from (B, 2, H, W) ab."""
    _check_pair(ab_hat, ab, "ab_hat and ab")
    return (ab_hat.float() - ab.float()).pow(2).sum(dim=1).sqrt()


def image_rmse(ab_hat: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Per-image RMS of the per-pixel Euclidean ab error, (B,) float64, Lab units:
    ``sqrt(mean over pixels of |ab_hat - ab|^2)`` (the SRM review's per-image RMSE)."""
    return pixel_ab_distance(ab_hat, ab).double().pow(2).mean(dim=(1, 2)).sqrt()


class ImageRMSE(Metric):
    """Per-image RMSE kept as a distribution (``values`` after ``compute``: every image's value, for cumulative
    histograms); ``compute`` returns the mean over images, Lab units."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        self.values.append(image_rmse(lab_hat[:, 1:], lab[:, 1:]))

    def distribution(self) -> torch.Tensor:
        """(N,) float64 per-image RMSE of every image seen (gathered over processes under DDP)."""
        with self.sync_context():
            return dim_zero_cat(self.values).cpu() if len(self.values) else torch.zeros(0, dtype=torch.float64)

    def compute(self) -> torch.Tensor:
        return dim_zero_cat(self.values).mean().float()


# ------------------------------------------------------------------------------ images (sRGB)
def psnr(rgb_hat: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB, (B,) float64, of RGB in [0, 1] (data range 1), with the per-image MSE floored at
    ``PSNR_MSE_FLOOR`` so an exact prediction scores 58.92 dB rather than +inf.

    Args:
        rgb_hat, rgb: (B, 3, H, W) float RGB in [0, 1].
    """
    _check_pair(rgb_hat, rgb, "rgb_hat and rgb")
    mse = (rgb_hat.double() - rgb.double()).pow(2).mean(dim=(1, 2, 3))
    return -10.0 * torch.log10(mse.clamp_min(PSNR_MSE_FLOOR))


class PSNR(_Mean):
    """``psnr`` of the sRGB images (dB), averaged over images; takes (lab_hat, lab) like the other metrics."""

    higher_is_better = True

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        self._add(psnr(_srgb(lab_hat), _srgb(lab)).sum(), lab.shape[0])


SSIM_SIGMA, SSIM_RADIUS = 1.5, 5  # Wang et al. 2004: Gaussian window, sigma 1.5, 11 x 11 (skimage, torchmetrics)


def ssim(rgb_hat: torch.Tensor, rgb: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """SSIM (Wang et al. 2004) of each image pair, (B,) float32: Gaussian-weighted local statistics (sigma 1.5,
    11 x 11 window), K1 = 0.01, K2 = 0.03, averaged over the window positions that fit inside the image and
    over channels; the same figure as skimage's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` to 2e-5 (torchmetrics' SSIM differs from skimage's by up to 0.014 on small
    non-square images). The window is applied as two 1-D passes (22 multiply-adds per pixel and statistic
    instead of 121): 42 against torchmetrics' 180 ms per 32 images of 64 px on one CPU thread.

    Args:
        rgb_hat, rgb: (B, C, H, W) with H, W >= 11.
    """
    _check_pair(rgb_hat, rgb, "rgb_hat, rgb")
    side = 2 * SSIM_RADIUS + 1
    if min(rgb.shape[-2:]) < side:
        raise ColorlabError(f"SSIM needs images of at least {side} pixels a side, got {tuple(rgb.shape[-2:])}")
    x = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float32, device=rgb.device)
    g = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    g = g / g.sum()
    c = rgb.shape[1]
    a, b = rgb_hat.float(), rgb.float()
    maps = torch.cat([a, b, a * a, b * b, a * b], dim=1)  # (B, 5C, H, W)
    n = maps.shape[1]
    local = F.conv2d(maps, g.view(1, 1, 1, side).expand(n, 1, 1, side), groups=n)  # valid positions only
    local = F.conv2d(local, g.view(1, 1, side, 1).expand(n, 1, side, 1), groups=n)
    mu_a, mu_b, aa, bb, ab = local.split(c, dim=1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    var_a, var_b, cov = aa - mu_a * mu_a, bb - mu_b * mu_b, ab - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


class SSIM(_Mean):
    """SSIM (``ssim``) of the sRGB images, averaged over images; takes (lab_hat, lab). Images need at least 11
    pixels a side."""

    higher_is_better = True

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        self._add(ssim(_srgb(lab_hat), _srgb(lab)).double().sum(), lab.shape[0])


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk (2003) colourfulness of each image, (B,) float64, on the 0..255 scale:
    ``rg = R - G``, ``yb = (R + G) / 2 - B``, ``M = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)``
    (population standard deviations over the image's pixels).

    Args:
        rgb: (B, 3, H, W) float RGB in [0, 1].
    """
    r, g, b = (255.0 * rgb.double()).unbind(dim=1)
    rg, yb = r - g, 0.5 * (r + g) - b
    std = (rg.var(dim=(1, 2), unbiased=False) + yb.var(dim=(1, 2), unbiased=False)).sqrt()
    mean = (rg.mean(dim=(1, 2)).pow(2) + yb.mean(dim=(1, 2)).pow(2)).sqrt()
    return std + 0.3 * mean


class Colorfulness(Metric):
    """Mean ``colorfulness`` over images of the prediction (``which="pred"``), of the truth (``"true"``), or
    their ratio mean(pred) / mean(true) (``"ratio"``: below 1 means the model desaturates). A ratio of means,
    not a mean of ratios, because a grey truth image has colourfulness 0.

    Args:
        which: "pred", "true" or "ratio".
    """

    full_state_update = False

    def __init__(self, which: str = "ratio", **kwargs) -> None:
        super().__init__(**kwargs)
        if which not in ("pred", "true", "ratio"):
            raise ColorlabError(f"which must be 'pred', 'true' or 'ratio', got {which!r}")
        self.which = which
        for name in ("pred", "true", "count"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        self.pred += _shared(colorfulness, _srgb(lab_hat)).sum()
        self.true += _shared(colorfulness, _srgb(lab)).sum()
        self.count += lab.shape[0]

    def compute(self) -> torch.Tensor:
        if self.which == "ratio":
            return (self.pred / self.true).float()
        return ((self.pred if self.which == "pred" else self.true) / self.count).float()


# ------------------------------------------------------------------------------ bins
def bin_hits(bins_hat: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Number of pixels whose predicted bin index (B, H, W) is the nearest bin of the true ab (B, 2, H, W),
    Lab units; the one definition of "bin accuracy" for every model."""
    truth = color.nearest_bin(ab)
    if bins_hat.shape != truth.shape:
        raise ColorlabError(f"bins_hat must have shape {tuple(truth.shape)}, got {tuple(bins_hat.shape)}")
    return (bins_hat == truth).sum()


class BinAccuracy(_Mean):
    """Fraction of pixels whose predicted ab falls in the true ab's bin (``color.nearest_bin`` of both): the
    same figure for regression and classification models. Takes (lab_hat, lab) at full resolution."""

    higher_is_better = True

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        self._add(bin_hits(color.nearest_bin(lab_hat[:, 1:]), lab[:, 1:]), lab[:, 0].numel())


class LogitAccuracy(_Mean):
    """Classifiers only: fraction of pixels whose most likely bin (argmax of the logits) is the true ab's bin.

    Takes logits (B, Q, h, w) and the true ab (B, 2, H, W) in Lab units, at any resolution:

    - ``full_resolution=False`` (``accuracy``, the Stanford report's "accuracy" at the net's output resolution):
      the truth is area-averaged to the logits' size (``ab_at``) first;
    - ``full_resolution=True`` (``top1``): the argmax bin is upsampled by nearest neighbour to the truth's size
      and compared with every true pixel's nearest bin (the same count as nearest-upsampled logits, at a Q-th of
      the cost).
    """

    higher_is_better = True

    def __init__(self, full_resolution: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.full_resolution = full_resolution

    def update(self, logits: torch.Tensor, ab: torch.Tensor) -> None:
        if not self.full_resolution:
            ab = ab_at(ab, logits.shape[-2:])
            self._add(bin_hits(logits.argmax(dim=1), ab), ab[:, 0].numel())
            return
        bins_hat = logits.argmax(dim=1, keepdim=True).float()  # (B, 1, h, w); exact in float32 for Q < 2**24
        bins_hat = F.interpolate(bins_hat, size=ab.shape[-2:], mode="nearest").long()[:, 0]
        self._add(bin_hits(bins_hat, ab), ab[:, 0].numel())


def soft_cross_entropy(
    logits: torch.Tensor, ab: torch.Tensor, k: int = color.SOFT_K, sigma: float = color.SOFT_SIGMA
) -> torch.Tensor:
    """Per-pixel cross-entropy (nats), (B, h, w), of softmax(logits) against the soft-encoded truth (k nearest
    bins, Gaussian weights; Zhang et al. 2016 eq. 2 without rebalancing, the Stanford report's "cross entropy").

    Args:
        logits: (B, Q, h, w); ab: (B, 2, h, w) Lab units.
    """
    idx, weight = color.soft_encode(ab, k, sigma)  # (B, k, h, w) each
    return -(weight * torch.log_softmax(logits.float(), dim=1).gather(1, idx)).sum(dim=1)


class CrossEntropy(_Mean):
    """Classifiers only: mean ``soft_cross_entropy`` over pixels at the net's resolution. Takes logits (B, Q, h, w)
    and the true ab (B, 2, H, W), area-averaged to (h, w) first (``ab_at``)."""

    higher_is_better = False

    def update(self, logits: torch.Tensor, ab: torch.Tensor) -> None:
        ab = ab_at(ab, logits.shape[-2:])
        self._add(soft_cross_entropy(logits, ab).double().sum(), ab[:, 0].numel())


# ------------------------------------------------------------------------------ Zhang's AuC
def inverse_prior_weights(prior: torch.Tensor) -> torch.Tensor:
    """Zhang et al.'s class-rebalanced AuC weights pixels inversely by their colour class's probability:
    (Q,) float64 ``1 / p_q``; bins the prior never saw (p = 0) get the largest finite weight."""
    prior = prior.double()
    w = torch.where(prior > 0, 1.0 / prior, torch.zeros_like(prior))
    return torch.where(prior > 0, w, w.max())


def error_histogram(
    ab_hat: torch.Tensor, ab: torch.Tensor, weights: torch.Tensor | None = None, max_threshold: int = AUC_MAX_THRESHOLD
) -> torch.Tensor:
    """(max_threshold + 2,) float64 (weighted) pixel counts by ``ceil`` of the per-pixel Euclidean ab error:
    bucket t holds errors in (t - 1, t], the last bucket errors above ``max_threshold``. Its cumulative sum
    at t is the (weighted) number of pixels within threshold t.

    Args:
        ab_hat, ab: (B, 2, H, W) Lab units.
        weights: optional (Q,) weight per bin of the true ab's nearest bin.
    """
    bucket = pixel_ab_distance(ab_hat, ab).ceil().clamp(max=max_threshold + 1).long().flatten()
    w = None if weights is None else weights.to(ab.device)[color.nearest_bin(ab)].flatten().double()
    return torch.bincount(bucket, weights=w, minlength=max_threshold + 2).double()


def auc_from_histogram(hist: torch.Tensor) -> torch.Tensor:
    """Area under the cumulative distribution ``F(t)`` (fraction of pixels within t) for t = 0, 1, ..., T,
    by the trapezoid rule, divided by T so that 1 is perfect (T = len(hist) - 2)."""
    cdf = hist.cumsum(0)[:-1] / hist.sum()  # F(0..T)
    return (cdf.sum() - 0.5 * (cdf[0] + cdf[-1])) / (cdf.numel() - 1)


class AuC(Metric):
    """Zhang et al. (2016, sec. 3.1) AuC: area under the cumulative distribution of per-pixel Euclidean ab
    error over thresholds 0..150, normalised to [0, 1]. With ``prior`` (a (Q,) bin prior, e.g. from a
    priors file) pixels are weighted by ``inverse_prior_weights`` of their true bin: the class-rebalanced AuC.

    ``hist`` (see ``error_histogram``) is the per-pixel cumulative histogram the SRM review plots.
    """

    higher_is_better = True
    full_state_update = False

    def __init__(self, prior: torch.Tensor | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.weights = None if prior is None else inverse_prior_weights(torch.as_tensor(prior))
        self.add_state("hist", torch.zeros(AUC_MAX_THRESHOLD + 2, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        self.hist += error_histogram(lab_hat[:, 1:], lab[:, 1:], self.weights)

    def compute(self) -> torch.Tensor:
        return auc_from_histogram(self.hist).float()


# ------------------------------------------------------------------------------ SRM review's PA
def consistent_pixels(ab: torch.Tensor, threshold: float = PA_THRESHOLD) -> torch.Tensor:
    """(B, H, W) bool: pixels whose every valid 4-neighbour has an ab value within ``threshold`` (Euclidean,
    Lab units, strictly less) of their own. ab: (B, 2, H, W)."""
    close_v = (ab[:, :, 1:] - ab[:, :, :-1]).pow(2).sum(dim=1) < threshold**2  # (B, H-1, W): pixel and the one below
    close_h = (ab[..., 1:] - ab[..., :-1]).pow(2).sum(dim=1) < threshold**2  # (B, H, W-1): pixel and the one right
    ok = torch.ones(ab.shape[0], *ab.shape[2:], dtype=torch.bool, device=ab.device)
    ok[:, 1:] &= close_v
    ok[:, :-1] &= close_v
    ok[..., 1:] &= close_h
    ok[..., :-1] &= close_h
    return ok


def pixel_consistency(ab_hat: torch.Tensor, ab: torch.Tensor, threshold: float = PA_THRESHOLD) -> tuple[torch.Tensor, torch.Tensor]:
    """The SRM review's PA per image: the fraction of the truth's consistently coloured pixels
    (``consistent_pixels``) that are consistent in the prediction too.

    Returns:
        (ratio, valid): (B,) float64 ratios and (B,) bool, False for an image with no consistent truth
        pixel (its ratio is undefined and set to 0).
    """
    _check_pair(ab_hat, ab, "ab_hat and ab")
    truth = consistent_pixels(ab.float(), threshold)
    both = truth & consistent_pixels(ab_hat.float(), threshold)
    den = truth.sum(dim=(1, 2)).double()
    return both.sum(dim=(1, 2)).double() / den.clamp_min(1), den > 0


class PixelConsistency(_Mean):
    """PA (SRM review): ``pixel_consistency`` averaged over the images that have a consistent truth pixel.
    A constant prediction scores 1 by construction: PA measures artifacts, not colour.

    When no image seen has a consistent truth pixel (every pixel differs from a neighbour by ``threshold`` or
    more, e.g. pure noise), there is no consistent colour a prediction could break: PA is 1.0 by definition,
    not NaN, so a table or a logged curve always holds a number.

    Args:
        threshold: neighbour ab distance below which colours count as consistent, Lab units.
    """

    higher_is_better = True

    def __init__(self, threshold: float = PA_THRESHOLD, **kwargs) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        ratio, valid = pixel_consistency(lab_hat[:, 1:], lab[:, 1:], self.threshold)
        self._add(ratio[valid].sum(), valid.sum())

    def compute(self) -> torch.Tensor:
        return super().compute() if self.count > 0 else torch.ones((), device=self.count.device)


# ------------------------------------------------------------------------------ collections
def colorization_metrics(prefix: str, prior: torch.Tensor | None = None) -> MetricCollection:
    """The metrics of every model, each updated with (lab_hat, lab), (B, 3, H, W) Lab at full resolution:
    ab L1 / MSE in Lab and ab/128 units, per-image RMSE (Lab), PSNR and SSIM on sRGB, bin accuracy, AuC (and,
    given a (Q,) bin ``prior``, the class-rebalanced AuC), PA, and the colourfulness of prediction and truth.

    Compute groups are off: torchmetrics merges metrics whose states are equal after the first update, and
    after an exact first batch (zero error) every ``ABError`` has equal states, so all four reported one value.
    """
    metrics = {
        "ab_l1": ABError(p=1),
        "ab_mse": ABError(p=2),
        "ab_l1_n": ABError(p=1, scale=color.AB_SCALE),
        "ab_mse_n": ABError(p=2, scale=color.AB_SCALE),
        "rmse": ImageRMSE(),
        "psnr": PSNR(),
        "ssim": SSIM(),
        "bin_acc": BinAccuracy(),
        "auc": AuC(),
        "pa": PixelConsistency(),
        "colorfulness": Colorfulness("pred"),
        "colorfulness_true": Colorfulness("true"),
        "colorfulness_ratio": Colorfulness("ratio"),
    }
    if prior is not None:
        metrics["auc_rebal"] = AuC(prior)
    return MetricCollection(metrics, prefix=prefix, compute_groups=False)


def classifier_metrics(prefix: str) -> MetricCollection:
    """Metrics of a classifier's bin distribution, each updated with logits (B, Q, h, w) and the true ab
    (B, 2, H, W) at full resolution: ``top1`` (argmax bin upsampled to full resolution), ``accuracy`` (argmax bin
    at the net's resolution) and ``ce`` (soft-encoded cross-entropy at the net's resolution, nats)."""
    metrics = {"top1": LogitAccuracy(full_resolution=True), "accuracy": LogitAccuracy(), "ce": CrossEntropy()}
    return MetricCollection(metrics, prefix=prefix, compute_groups=False)


def ab_at(ab: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """True ab (B, 2, H, W) area-averaged to a net's output size, as the objectives compare them."""
    return ab if tuple(ab.shape[-2:]) == tuple(size) else F.interpolate(ab, size=tuple(size), mode="area")


METRIC_LABELS: dict[str, str] = {
    "ab_l1": "ab L1 (Lab)",
    "ab_mse": "ab MSE (Lab^2)",
    "ab_l1_n": "ab L1 (ab/128)",
    "ab_mse_n": "ab MSE ((ab/128)^2)",
    "rmse": "per-image RMSE (Lab)",
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "bin_acc": "bin accuracy",
    "auc": "AuC",
    "auc_rebal": "AuC rebalanced",
    "pa": "PA",
    "colorfulness": "colourfulness",
    "colorfulness_true": "colourfulness of truth",
    "colorfulness_ratio": "colourfulness ratio",
    "top1": "top-1 bin accuracy",
    "accuracy": "argmax bin accuracy (net resolution)",
    "ce": "cross-entropy (nats)",
}
"""Human-readable name and unit of every metric key, for tables and plots."""

"""Colorization metrics: the maths in plain functions, the accumulation in torchmetrics ``Metric``s.

ab errors are reported in Lab units (``val/ab_l1``) and in the literature's normalised units ab/128
(``val/ab_l1_n``; the Stanford report's Table 1 L1/L2 are in these units).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio

from colorlab import color


def ab_error(ab_hat: torch.Tensor, ab: torch.Tensor, p: int = 1) -> torch.Tensor:
    """Mean absolute (p=1) or squared (p=2) error over every pixel and both channels.

    Args:
        ab_hat, ab: (B, 2, H, W) float, same units (the result is in those units, squared for p=2).
    """
    if ab_hat.shape != ab.shape:
        raise ValueError(f"ab_hat and ab must have the same shape, got {tuple(ab_hat.shape)} and {tuple(ab.shape)}")
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p}")
    return (ab_hat.float() - ab.float()).abs().pow(p).mean()


class ABError(Metric):
    """Running ``ab_error`` over many batches (pixel-weighted, so batched == one-shot).

    Args:
        p: 1 for mean absolute error, 2 for mean squared error.
        scale: ab units of the inputs are divided by this (1: Lab units; 128: the literature's ab/128).
    """

    higher_is_better = False
    full_state_update = False

    def __init__(self, p: int = 1, scale: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {p}")
        self.p, self.scale = p, scale
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        """lab_hat, lab: (B, 3, H, W) Lab; only the ab channels are compared."""
        ab_hat, ab = lab_hat[:, 1:] / self.scale, lab[:, 1:] / self.scale
        self.total += ab_error(ab_hat, ab, self.p).double() * ab.numel()
        self.count += ab.numel()

    def compute(self) -> torch.Tensor:
        return (self.total / self.count).float()


class PSNR(PeakSignalNoiseRatio):
    """Per-image PSNR (dB) of the sRGB images, averaged over images; takes (lab_hat, lab) like the
    other metrics and converts both to RGB in [0, 1]."""

    def __init__(self, **kwargs) -> None:
        super().__init__(data_range=1.0, reduction="elementwise_mean", dim=(1, 2, 3), **kwargs)

    def update(self, lab_hat: torch.Tensor, lab: torch.Tensor) -> None:
        super().update(color.lab_to_rgb(lab_hat), color.lab_to_rgb(lab))


class BinAccuracy(Metric):
    """Fraction of pixels whose predicted bin (argmax of the logits) is the target's nearest bin
    (the Stanford report's "accuracy"). Takes logits (B, Q, h, w) and ab (B, 2, h, w) in Lab units."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("correct", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, ab: torch.Tensor) -> None:
        self.correct += (logits.argmax(dim=1) == color.nearest_bin(ab)).sum()
        self.count += ab.shape[0] * ab.shape[2] * ab.shape[3]

    def compute(self) -> torch.Tensor:
        return self.correct.float() / self.count


def colorization_metrics(prefix: str) -> MetricCollection:
    """The metrics every stage logs, each updated with (lab_hat, lab), (B, 3, H, W) Lab:
    ab L1/L2 in Lab and ab/128 units, and per-image PSNR on RGB."""
    return MetricCollection(
        {
            "ab_l1": ABError(p=1),
            "ab_l2": ABError(p=2),
            "ab_l1_n": ABError(p=1, scale=color.AB_SCALE),
            "ab_l2_n": ABError(p=2, scale=color.AB_SCALE),
            "psnr": PSNR(),
        },
        prefix=prefix,
    )

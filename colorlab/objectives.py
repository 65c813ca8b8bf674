"""Objectives: how a network's raw output becomes a loss and an ab prediction.

An objective owns the target encoding, the loss, and the decoding back to ab. It is told the net's
output (B, C, h, w), which may be at a lower resolution than the (B, 2, H, W) target (Zhang-style nets
predict at 1/4): the loss is computed at the net's resolution (the target is area-downsampled, as in
Zhang et al. 2016), and ``decode`` returns ab at the full resolution (bilinear upsampling of ab).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from colorlab import color


def _resize(y: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    if tuple(y.shape[-2:]) == tuple(size):
        return y
    return F.interpolate(y, size=tuple(size), mode="area")


def _upsample(y: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    if tuple(y.shape[-2:]) == tuple(size):
        return y
    return F.interpolate(y, size=tuple(size), mode="bilinear", align_corners=False)


class Objective(nn.Module):
    """Base class. Subclasses set ``kind`` and ``channels`` and implement ``loss`` and ``decode``."""

    kind: str
    channels: int

    def loss(self, out: torch.Tensor, y_ab: torch.Tensor) -> torch.Tensor:
        """Scalar loss of raw net output ``out`` (B, C, h, w) against ``y_ab`` (B, 2, H, W) = ab/128."""
        raise NotImplementedError

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Raw net output -> (B, 2, *size) float32 ab/128."""
        raise NotImplementedError


class Regression(Objective):
    """Predict normalised ab (ab/128) directly.

    Args:
        loss: "mse" (Olin, Stanford baseline), "l1", or "smooth_l1" (Padova report's Huber variant).
        beta: SmoothL1 transition point, in normalised ab units (0.05 = 6.4 Lab units).
    """

    kind = "regression"
    channels = 2

    def __init__(self, loss: Literal["mse", "l1", "smooth_l1"] = "mse", beta: float = 0.05) -> None:
        super().__init__()
        if loss not in ("mse", "l1", "smooth_l1"):
            raise ValueError(f"loss must be 'mse', 'l1' or 'smooth_l1', got {loss!r}")
        if not beta > 0:
            raise ValueError(f"Regression: beta must be > 0 (normalised ab units), got {beta}")
        self.loss_name = loss
        self.beta = beta

    def loss(self, out: torch.Tensor, y_ab: torch.Tensor) -> torch.Tensor:
        out, target = out.float(), _resize(y_ab, out.shape[-2:])
        if self.loss_name == "mse":
            return F.mse_loss(out, target)
        if self.loss_name == "l1":
            return F.l1_loss(out, target)
        return F.smooth_l1_loss(out, target, beta=self.beta)

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        return _upsample(out.float(), size)


class Classification(Objective):
    """Predict a distribution over the Q ab bins (Zhang et al. 2016).

    Targets are soft-encoded (k nearest bins, Gaussian weights) in sparse form; the loss is the
    cross-entropy (or KL divergence, which differs by the targets' constant entropy) per pixel,
    optionally weighted by the class-rebalancing weight of the pixel's nearest bin.

    Args:
        loss: "cross_entropy" or "kl".
        k: neighbours in the soft-encoding.
        sigma: soft-encoding Gaussian width, Lab units.
        priors: path to a priors file written by ``python -m colorlab priors`` (or the Q prior values
            themselves, as checkpoints store them); enables class rebalancing.
        lam: rebalancing mix with the uniform distribution (1 = no rebalancing effect).
        decoding: how predictions become ab: "mode", "mean", "annealed_mean" or "sample".
        temperature: annealed-mean temperature T.
    """

    kind = "classification"

    def __init__(
        self,
        loss: Literal["cross_entropy", "kl"] = "cross_entropy",
        k: int = color.SOFT_K,
        sigma: float = color.SOFT_SIGMA,
        priors: str | list[float] | None = None,
        lam: float = color.REBALANCE_LAMBDA,
        decoding: color.Decoding = "annealed_mean",
        temperature: float = color.ANNEAL_T,
    ) -> None:
        super().__init__()
        if loss not in ("cross_entropy", "kl"):
            raise ValueError(f"loss must be 'cross_entropy' or 'kl', got {loss!r}")
        if decoding not in ("mode", "mean", "annealed_mean", "sample"):
            raise ValueError(f"decoding must be mode, mean, annealed_mean or sample; got {decoding!r}")
        self.channels = color.ab_bins().shape[0]
        # Checked here, not at the first step: a one-pixel soft-encoding applies color.soft_encode's own
        # limits on k and sigma, and annealed-mean decoding needs T > 0.
        try:
            color.soft_encode(torch.zeros(1, 2, 1, 1), k, sigma)
        except ValueError as err:
            raise ValueError(f"Classification: {err} (init_args k={k}, sigma={sigma})") from err
        if decoding == "annealed_mean" and not temperature > 0:
            raise ValueError(f"Classification: temperature must be > 0 for annealed_mean decoding, got {temperature}")
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"Classification: lam must be in [0, 1], got {lam}")
        self.loss_name, self.k, self.sigma = loss, k, sigma
        self.decoding, self.temperature = decoding, temperature
        self.rebalance = priors is not None
        self.prior_values: list[float] | None = None  # what checkpoints store in place of a file path
        weights = torch.ones(self.channels)
        if priors is not None:
            prior = torch.tensor(priors, dtype=torch.float64) if isinstance(priors, list) else load_prior(priors)
            if prior.shape != (self.channels,):
                raise ValueError(f"priors must hold Q={self.channels} values, got shape {tuple(prior.shape)}")
            self.prior_values = prior.tolist()
            weights = color.rebalance_weights(prior, lam)
        # A buffer, so checkpoints carry the weights and inference never needs the priors file.
        self.register_buffer("class_weights", weights)

    def loss(self, out: torch.Tensor, y_ab: torch.Tensor) -> torch.Tensor:
        ab = _resize(y_ab, out.shape[-2:]) * color.AB_SCALE  # (B, 2, h, w), Lab units
        idx, weight = color.soft_encode(ab, self.k, self.sigma)  # (B, k, h, w) each
        log_p = torch.log_softmax(out.float(), dim=1).gather(1, idx)  # (B, k, h, w)
        per_pixel = -(weight * log_p).sum(dim=1)  # (B, h, w)
        if self.loss_name == "kl":
            per_pixel = per_pixel + (weight * weight.clamp_min(1e-12).log()).sum(dim=1)
        if self.rebalance:
            return (per_pixel * self.class_weights[idx[:, 0]]).mean()
        return per_pixel.mean()

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        ab = color.decode(out, self.decoding, self.temperature)
        return _upsample(ab / color.AB_SCALE, size)


def load_prior(path: str | Path) -> torch.Tensor:
    """Read the smoothed prior (Q,) float64 from a priors file written by ``python -m colorlab priors``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"priors file not found: {path} (create it with `python -m colorlab priors`)")
    data = torch.load(path, map_location="cpu", weights_only=True)
    prior = data.get("prior") if isinstance(data, dict) else None
    if not isinstance(prior, torch.Tensor) or prior.ndim != 1:
        raise ValueError(f"{path} is not a colorlab priors file (no 1-d 'prior' tensor)")
    return prior.double()

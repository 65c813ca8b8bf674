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
from colorlab.errors import ColorlabError, MissingFileError


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

    def __init__(self, **init_args) -> None:
        """``init_args``: the subclass's constructor arguments, kept so that a LitColorizer built in Python
        saves the objective as ``class_path`` + ``init_args`` and its checkpoint loads from the file alone."""
        super().__init__()
        self.init_args = init_args

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
        super().__init__(loss=loss, beta=beta)
        if loss not in ("mse", "l1", "smooth_l1"):
            raise ColorlabError(f"loss must be 'mse', 'l1' or 'smooth_l1', got {loss!r}")
        if not beta > 0:
            raise ColorlabError(f"Regression: beta must be > 0 (normalised ab units), got {beta}")
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
        prior_shift: rebalancing at decoding time: the logits are decoded as ``logits - prior_shift * log(prior)``
            (logit adjustment, Menon et al. 2021), so 1 divides the predicted distribution by the training prior
            and 0 decodes it as it is. Needs ``priors``; with ``lam: 1.0`` they change the decoding only, not
            the loss. Raises the colourfulness of a model trained without rebalancing, at no cost to its
            training; the bin accuracy (``top1``) is that of the raw logits.
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
        prior_shift: float = 0.0,
    ) -> None:
        super().__init__(
            loss=loss, k=k, sigma=sigma, priors=priors, lam=lam, decoding=decoding, temperature=temperature,
            prior_shift=prior_shift,
        )
        if loss not in ("cross_entropy", "kl"):
            raise ColorlabError(f"loss must be 'cross_entropy' or 'kl', got {loss!r}")
        self.channels = color.ab_bins().shape[0]
        # Checked here, not at the first step (annealed-mean decoding's T > 0 is checked by set_decoding).
        try:
            color.check_soft_encoding(k, sigma)
        except ValueError as err:
            raise ColorlabError(f"Classification: {err} (init_args k={k}, sigma={sigma})") from err
        if not 0.0 <= lam <= 1.0:
            raise ColorlabError(f"Classification: lam must be in [0, 1], got {lam}")
        self.loss_name, self.k, self.sigma = loss, k, sigma
        self.rebalance = priors is not None and lam < 1.0  # lam 1: uniform weights, priors for decoding only
        self.prior_values: list[float] | None = None  # what checkpoints store in place of a file path
        weights = torch.ones(self.channels)
        if priors is not None:
            prior = torch.tensor(priors, dtype=torch.float64) if isinstance(priors, list) else load_prior(priors)
            if prior.shape != (self.channels,):
                raise ColorlabError(f"priors must hold Q={self.channels} values, got shape {tuple(prior.shape)}")
            self.prior_values = prior.tolist()
            weights = color.rebalance_weights(prior, lam)
        # Buffers, so checkpoints carry them and inference never needs the priors file.
        self.register_buffer("class_weights", weights)
        log_prior = torch.zeros(self.channels) if priors is None else prior.clamp_min(1e-12).log().float()
        self.register_buffer("log_prior", log_prior, persistent=False)  # rebuilt from the saved prior values
        self.prior_shift = 0.0
        self.set_decoding(decoding, temperature, prior_shift)

    def set_decoding(
        self, decoding: color.Decoding | None = None, temperature: float | None = None, prior_shift: float | None = None
    ) -> None:
        """Check and set how predictions become ab (None keeps the current one), e.g. to colorize or evaluate a
        trained classifier with another decoding than it was saved with."""
        decoding = self.decoding if decoding is None else decoding
        temperature = self.temperature if temperature is None else temperature
        prior_shift = self.prior_shift if prior_shift is None else prior_shift
        if prior_shift and self.prior_values is None:
            raise ColorlabError(f"Classification: prior_shift={prior_shift} needs the training priors (priors: FILE)")
        if decoding not in ("mode", "mean", "annealed_mean", "sample"):
            raise ColorlabError(f"decoding must be mode, mean, annealed_mean or sample; got {decoding!r}")
        if decoding == "annealed_mean" and not temperature > 0:
            raise ColorlabError(f"Classification: temperature must be > 0 for annealed_mean decoding, got {temperature}")
        self.decoding, self.temperature, self.prior_shift = decoding, temperature, float(prior_shift)

    def loss(self, out: torch.Tensor, y_ab: torch.Tensor) -> torch.Tensor:
        ab = _resize(y_ab, out.shape[-2:]) * color.AB_SCALE  # (B, 2, h, w), Lab units
        idx, weight = color.soft_encode(ab, self.k, self.sigma)  # (B, k, h, w) each
        per_pixel = SparseCrossEntropy.apply(out, idx, weight)  # (B, h, w)
        if self.loss_name == "kl":
            per_pixel = per_pixel + (weight * weight.clamp_min(1e-12).log()).sum(dim=1)
        if self.rebalance:
            nearest = idx.gather(1, weight.argmax(dim=1, keepdim=True))[:, 0]  # (B, h, w): the heaviest bin
            return (per_pixel * self.class_weights[nearest]).mean()
        return per_pixel.mean()

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        if self.prior_shift:
            out = out.float() - self.prior_shift * self.log_prior[:, None, None]  # (B, Q, h, w)
        ab = color.decode(out, self.decoding, self.temperature)
        return _upsample(ab / color.AB_SCALE, size)


def _pixel_blocks(shape: torch.Size, pixels: int) -> list[tuple[int, slice]]:
    """(image, row range) blocks of about ``pixels`` pixels covering a (B, C, H, W) tensor."""
    b, _, h, w = shape
    rows = max(1, pixels // w)
    return [(i, slice(r, r + rows)) for i in range(b) for r in range(0, h, rows)]


class SparseCrossEntropy(torch.autograd.Function):
    """Per-pixel cross-entropy of logits against a sparse target, without a dense copy of the logits.

    ``loss = sum_j w_j * (logsumexp(z) - z[idx_j])`` for each pixel, which is ``-(target * log_softmax(z)).sum(1)``
    for the dense target holding ``w_j`` at ``idx_j``. ``torch.log_softmax`` keeps a float32 copy of the
    logits for backward and its backward and the gather's add two more; here the forward keeps only the
    per-pixel logsumexp (computed a block of pixels at a time) and the backward writes
    ``sum(w) * softmax(z) - target`` straight into the one gradient buffer.

    Args (of ``apply``):
        logits: (B, Q, h, w) float (any float dtype; the maths runs in float32).
        idx: (B, k, h, w) long bin indices.
        weight: (B, k, h, w) float32 target weights.

    Returns:
        (B, h, w) float32 loss per pixel.
    """

    BLOCK = 16384  # pixels per logsumexp / softmax block: bounds the float32 temporaries at BLOCK * Q * 4 bytes

    @staticmethod
    def forward(ctx, logits: torch.Tensor, idx: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        lse = logits.new_empty((logits.shape[0], *logits.shape[2:]), dtype=torch.float32)  # (B, h, w)
        for i, rows in _pixel_blocks(logits.shape, SparseCrossEntropy.BLOCK):
            lse[i, rows] = torch.logsumexp(logits[i, :, rows].float(), dim=0)
        weight_sum = weight.sum(dim=1)  # (B, h, w), 1 up to rounding
        ctx.save_for_backward(logits, idx, weight, lse, weight_sum)
        return lse * weight_sum - (weight * logits.gather(1, idx).float()).sum(dim=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        logits, idx, weight, lse, weight_sum = ctx.saved_tensors
        grad_logits = torch.empty_like(logits)
        scale = grad * weight_sum  # (B, h, w)
        for i, rows in _pixel_blocks(logits.shape, SparseCrossEntropy.BLOCK):
            block = logits[i, :, rows].float() - lse[i, rows]  # (Q, rows, w) float32
            grad_logits[i, :, rows] = block.exp_().mul_(scale[i, rows])
        grad_logits.scatter_add_(1, idx, (weight * -grad[:, None]).to(logits.dtype))
        return grad_logits, None, None


def write_priors(
    path: str | Path, counts: torch.Tensor, images: int, sigma: float = color.SOFT_SIGMA, source: str = ""
) -> Path:
    """Write a priors file (what ``load_prior`` reads): the Gaussian-smoothed prior of hard-quantised bin
    ``counts`` (Q,) over ``images`` training images (``color.smooth_prior``, ``sigma`` in Lab units), the counts,
    the bin centres, and ``source`` (the experiment it was counted on)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"prior": color.smooth_prior(counts, sigma), "counts": counts.cpu(), "ab_bins": color.ab_bins(),
         "sigma": sigma, "images": images, "config": source},
        path,
    )  # fmt: skip
    return path


def load_prior(path: str | Path) -> torch.Tensor:
    """Read the smoothed prior (Q,) float64 from a priors file written by ``python -m colorlab priors``."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"priors file not found: {path} (create it with `python -m colorlab priors`)")
    data = torch.load(path, map_location="cpu", weights_only=True)
    prior = data.get("prior") if isinstance(data, dict) else None
    if not isinstance(prior, torch.Tensor) or prior.ndim != 1:
        raise ColorlabError(f"{path} is not a colorlab priors file (no 1-d 'prior' tensor)")
    return prior.double()

"""Evaluation on a split, side by side with the trivial baseline every number must beat: the constant
prediction of the training set's mean ab."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from tqdm import tqdm

from colorlab import color
from colorlab.metrics import colorization_metrics
from colorlab.module import LitColorizer


def lab_batches(
    loader: Iterable, device: torch.device | str, limit: int | None = None, desc: str = "batches"
) -> Iterator[torch.Tensor]:
    """Float32 Lab (B, 3, H, W) of each batch of a loader (up to ``limit`` batches), converted on ``device``,
    with a progress bar."""
    sizes = [n for n in (len(loader) if hasattr(loader, "__len__") else None, limit) if n is not None]
    total = min(sizes) if sizes else None  # for the progress bar
    for i, batch in enumerate(tqdm(loader, desc=desc, total=total, unit="batch", leave=False)):
        if limit is not None and i >= limit:
            break
        yield color.batch_to_lab({k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)})


@torch.no_grad()
def mean_ab(loader: Iterable, device: torch.device | str = "cpu", limit: int | None = None) -> torch.Tensor:
    """Pixel-weighted mean ab (2,) in Lab units over (up to ``limit`` batches of) a loader."""
    total, count = torch.zeros(2, dtype=torch.float64, device=device), 0
    for lab in lab_batches(loader, device, limit, "mean ab"):
        total += lab[:, 1:].sum(dim=(0, 2, 3)).double()
        count += lab.shape[0] * lab.shape[2] * lab.shape[3]
    if count == 0:
        raise ValueError("the loader yielded no images")
    return (total / count).float()


@torch.no_grad()
def evaluate_with_baseline(
    model: LitColorizer, loader: Iterable, baseline_ab: torch.Tensor, limit: int | None = None
) -> dict[str, dict[str, float]]:
    """Metrics of ``model`` and of the constant ``baseline_ab`` (2,) Lab prediction on the same images.

    Returns:
        {"model": {metric: value}, "constant_mean_ab": {metric: value}}
    """
    model.eval()
    device = model.device
    ours, const = colorization_metrics("").to(device), colorization_metrics("").to(device)
    baseline_ab = baseline_ab.to(device).view(1, 2, 1, 1)
    for lab in lab_batches(loader, device, limit, "evaluate"):
        ours.update(model.colorize(color.normalize(lab)[0]), lab)
        const.update(torch.cat([lab[:, :1], baseline_ab.expand(lab.shape[0], 2, *lab.shape[2:])], dim=1), lab)
    return {
        "model": {k: float(v) for k, v in ours.compute().items()},
        "constant_mean_ab": {k: float(v) for k, v in const.compute().items()},
    }

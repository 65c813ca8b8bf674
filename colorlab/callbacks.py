"""Callbacks: sample grids of (grayscale | prediction | ground truth)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from colorlab import color


def comparison_grid(lab: torch.Tensor, lab_hat: torch.Tensor) -> Image.Image:
    """One row per image: grayscale input | prediction | ground truth.

    Args:
        lab, lab_hat: (N, 3, H, W) Lab (ground truth and prediction, same L).

    Returns:
        an RGB PIL image.
    """
    gray = lab.clone()
    gray[:, 1:] = 0
    rows = torch.stack([color.lab_to_rgb(gray), color.lab_to_rgb(lab_hat), color.lab_to_rgb(lab)], dim=1)
    grid = make_grid(rows.flatten(0, 1).cpu(), nrow=3, padding=2, pad_value=1.0)  # (3, rows*H, 3*W)
    return Image.fromarray((grid.permute(1, 2, 0) * 255).round().byte().numpy())


class SampleGrid(L.Callback):
    """After each validation epoch, colorize the first ``n`` validation images and save the grid as
    ``<log_dir>/samples/epoch=<e>.png`` (and ``latest.png``); W&B and TensorBoard loggers also get it.

    Args:
        n: number of images (rows).
    """

    def __init__(self, n: int = 8) -> None:
        self.n = n
        self.latest: Path | None = None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        loader = trainer.val_dataloaders
        batch = next(iter(loader[0] if isinstance(loader, list) else loader))
        batch = {k: v[: self.n] for k, v in batch.items() if isinstance(v, torch.Tensor)}
        batch = pl_module.on_after_batch_transfer(pl_module.transfer_batch_to_device(batch, pl_module.device, 0), 0)
        lab = batch["lab"]
        with torch.no_grad():
            lab_hat = pl_module.colorize(color.normalize(lab)[0])
        image = comparison_grid(lab, lab_hat)
        folder = Path(trainer.log_dir or trainer.default_root_dir) / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"epoch={trainer.current_epoch}.png")
        image.save(folder / "latest.png")
        self.latest = folder / "latest.png"
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # WandbLogger
                logger.log_image("val/samples", [image], step=trainer.global_step)
            elif hasattr(getattr(logger, "experiment", None), "add_image"):  # TensorBoard
                logger.experiment.add_image("val/samples", np.asarray(image), trainer.global_step, dataformats="HWC")

"""Callbacks: sample grids of (grayscale | prediction | ground truth); activation maps of chosen layers."""

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


def validation_epoch_images(
    trainer: L.Trainer, pl_module: L.LightningModule, n: int
) -> tuple[Path, torch.Tensor] | None:
    """For callbacks that save pictures after a validation epoch: the run folder and the Lab (n, 3, H, W) of
    the first ``n`` images of the first validation loader, on the module's device (the same images every epoch:
    validation loaders do not shuffle); None during the sanity check and on every rank but the first.

    The run folder is read on every rank before the others return: ``Trainer.log_dir`` is a broadcast under
    DDP, and reading it on rank 0 alone hangs the run."""
    if trainer.sanity_checking:
        return None
    run_dir = Path(trainer.log_dir or trainer.default_root_dir)
    if not trainer.is_global_zero:
        return None
    loader = trainer.val_dataloaders
    batch = next(iter(loader[0] if isinstance(loader, list) else loader))
    batch = {k: v[:n] for k, v in batch.items() if isinstance(v, torch.Tensor)}
    batch = pl_module.transfer_batch_to_device(batch, pl_module.device, 0)
    return run_dir, pl_module.on_after_batch_transfer(batch, 0)["lab"]


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
        images = validation_epoch_images(trainer, pl_module, self.n)
        if images is None:
            return
        run_dir, lab = images
        with torch.no_grad():
            lab_hat = pl_module.colorize(color.normalize(lab)[0])
        image = comparison_grid(lab, lab_hat)
        folder = run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"epoch={trainer.current_epoch}.png")
        image.save(folder / "latest.png")
        self.latest = folder / "latest.png"
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # WandbLogger
                logger.log_image("val/samples", [image], step=trainer.global_step)
            elif hasattr(getattr(logger, "experiment", None), "add_image"):  # TensorBoard
                logger.experiment.add_image("val/samples", np.asarray(image), trainer.global_step, dataformats="HWC")


def activation_grid(maps: torch.Tensor, max_channels: int = 64) -> Image.Image:
    """Feature maps of one image as a grayscale grid, each channel min-max scaled to 0..255 on its own
    (a constant channel is black), row-major, ceil(sqrt(C)) tiles a row, 1 px white gaps.

    Args:
        maps: (C, h, w) float activations.
        max_channels: draw the first ``max_channels`` channels only.
    """
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (C, h, w), got {tuple(maps.shape)}")
    maps = maps[:max_channels].detach().float().cpu()
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = maps.amax(dim=(1, 2), keepdim=True) - low
    scaled = torch.where(span > 0, (maps - low) / span.clamp_min(1e-12), torch.zeros_like(maps))
    nrow = int(np.ceil(np.sqrt(maps.shape[0])))
    grid = make_grid(scaled[:, None], nrow=nrow, padding=1, pad_value=1.0)[0]  # (rows*(h+1)+1, nrow*(w+1)+1)
    return Image.fromarray((grid * 255).round().byte().numpy(), mode="L")


class ActivationMaps(L.Callback):
    """After each validation epoch, pass one fixed validation image through the network and save the feature
    maps of chosen layers (the Olin project's activation analysis) as ``<log_dir>/activations/<layer>/
    epoch=<e>.png`` grids (``activation_grid``).

    Args:
        layers: module names inside the network, as ``net.named_modules()`` gives them (``encoder.0``,
            ``up.1``); a wrong name fails at the start of fitting with the list of valid ones.
        index: which validation image (position in the first validation batch).
        max_channels: channels drawn per layer.
    """

    def __init__(self, layers: list[str], index: int = 0, max_channels: int = 64) -> None:
        if not layers:
            raise ValueError("layers must name at least one module of the network")
        self.layers, self.index, self.max_channels = list(layers), index, max_channels
        self.saved: dict[str, Path] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        names = dict(pl_module.net.named_modules())
        unknown = [layer for layer in self.layers if layer not in names]
        if unknown:
            valid = ", ".join(n for n in names if n)
            raise ValueError(f"ActivationMaps: no module named {unknown} in {type(pl_module.net).__name__}; "
                             f"valid names: {valid}")  # fmt: skip

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        images = validation_epoch_images(trainer, pl_module, self.index + 1)
        if images is None:
            return
        run_dir, lab = images[0], images[1][self.index :]
        modules = dict(pl_module.net.named_modules())
        captured: dict[str, torch.Tensor] = {}
        hooks = [modules[name].register_forward_hook(lambda m, i, out, name=name: captured.__setitem__(name, out))
                 for name in self.layers]  # fmt: skip
        try:
            with torch.no_grad():
                pl_module(color.normalize(lab)[0])
        finally:
            for hook in hooks:
                hook.remove()
        folder = run_dir / "activations"
        for name in self.layers:
            out = captured[name]
            if not isinstance(out, torch.Tensor) or out.ndim != 4:
                raise ValueError(f"ActivationMaps: {name} returned {type(out).__name__}, not a (B, C, h, w) tensor")
            (folder / name).mkdir(parents=True, exist_ok=True)
            self.saved[name] = folder / name / f"epoch={trainer.current_epoch}.png"
            activation_grid(out[0], self.max_channels).save(self.saved[name])

"""Every callback a colorlab run uses, in one place: what runs during ``fit``, ``test`` and ``predict``.

- pictures: ``SampleGrid`` (grayscale | prediction | truth after each validation epoch), ``ActivationMaps``;
- safety: ``LatestCheckpoint`` (``last.ckpt`` is the final state), ``NonFiniteLossGuard``, ``RngState``
  (exact resume);
- records: ``RunRecord`` (``config.yaml`` and ``run.yaml`` in the run folder and every logger);
- evaluation and output: ``TestBaselines`` (the three constant baselines beside ``test``), ``ColorizedWriter``
  (``predict`` writes files).

``colorlab.train.ColorlabCLI`` wires them in; nothing here is needed to use a checkpoint.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from lightning.pytorch.callbacks import BasePredictionWriter, ModelCheckpoint
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info
from PIL import Image
from torchvision.utils import make_grid

from colorlab import color
from colorlab._private import save_last_checkpoint
from colorlab.errors import ColorlabError, NonFiniteLossError
from colorlab.evaluate import ab_statistics, baseline_constants, constant_predictor
from colorlab.infer import Colorizer, Summary, colorize_images, output_path, to_uint8
from colorlab.metrics import colorization_metrics
from colorlab.ops import run_record


# ------------------------------------------------------------------------------ pictures
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
        raise ColorlabError(f"maps must have shape (C, h, w), got {tuple(maps.shape)}")
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
            raise ColorlabError("layers must name at least one module of the network")
        self.layers, self.index, self.max_channels = list(layers), index, max_channels
        self.saved: dict[str, Path] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        names = dict(pl_module.net.named_modules())
        unknown = [layer for layer in self.layers if layer not in names]
        if unknown:
            valid = ", ".join(n for n in names if n)
            raise ColorlabError(f"ActivationMaps: no module named {unknown} in {type(pl_module.net).__name__}; "
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
                raise ColorlabError(f"ActivationMaps: {name} returned {type(out).__name__}, not a (B, C, h, w) tensor")
            (folder / name).mkdir(parents=True, exist_ok=True)
            self.saved[name] = folder / name / f"epoch={trainer.current_epoch}.png"
            activation_grid(out[0], self.max_channels).save(self.saved[name])


# ------------------------------------------------------------------------------ safety
class LatestCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint whose ``last.ckpt`` is always the final state of a fit.

    Lightning 2.6 writes ``last`` only beside a top-k save: a run whose monitored metric stopped improving,
    or that stopped on ``max_time`` or ``max_steps`` between two periodic saves, kept an older ``last.ckpt``
    (measured: a 658-step run left step 500), so ``--ckpt_path last`` and ``report --checkpoint last`` lost
    the end of the run. This one also writes ``last.ckpt`` when training ends, unless it saved at that step.
    """

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_last and save_last_checkpoint(self, trainer):
            return
        super().on_train_end(trainer, pl_module)


class NonFiniteLossGuard(L.Callback):
    """Stops training at the first non-finite loss (checked before its backward pass and optimizer step) or
    non-finite weights (checked after the step, before Lightning's checkpoint callbacks, which always run
    last), so no checkpoint on disk is overwritten by a diverged state. Under DDP the decision is joint: any
    rank's NaN stops all ranks at the same step."""

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        if not self._all_finite(trainer, [loss.detach()]):
            self._stop(trainer, pl_module, f"train/loss is {loss.item()}")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if not self._all_finite(trainer, [p.detach() for p in pl_module.parameters()]):
            self._stop(trainer, pl_module, "the weights are non-finite after this step's update")

    @staticmethod
    def _all_finite(trainer: L.Trainer, tensors: list[torch.Tensor]) -> bool:
        finite = bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())
        return trainer.strategy.reduce_boolean_decision(finite, all=True)

    @staticmethod
    def _stop(trainer: L.Trainer, pl_module: L.LightningModule, what: str) -> None:
        weights_ok = all(bool(torch.isfinite(p).all()) for p in pl_module.parameters())
        lrs = sorted({g["lr"] for opt in trainer.optimizers for g in opt.param_groups})
        if "16" in str(trainer.precision) and "bf16" not in str(trainer.precision):
            cause = "float16 overflow: use --trainer.precision bf16-mixed (or 32-true)"
        elif not weights_ok or what.startswith("the weights"):
            cause = (f"an update too large for this model: the learning rate ({lrs}) is too high (lower "
                     f"--model.optimizer.init_args.lr, or set --trainer.gradient_clip_val)")  # fmt: skip
        else:
            cause = (f"the loss diverged or a batch holds non-finite values: check the learning rate ({lrs}) "
                     f"and the data")  # fmt: skip
        last = "; ".join(str(c.last_model_path) for c in trainer.checkpoint_callbacks if getattr(c, "last_model_path", ""))
        raise NonFiniteLossError(
            f"{what} at step {trainer.global_step} (epoch {trainer.current_epoch}); likely cause: {cause}. "
            f"Training stopped; no checkpoint was written for this step"
            + (f" (last written: {last}; resume with --ckpt_path last)" if last else "")
        )


class RngState(L.Callback):
    """Saves the Python, NumPy and torch (CPU and CUDA) generator states in each checkpoint and restores them
    on resume, so random draws after a resume (dropout, sampling, augmentation in the main process) continue
    the sequence of the uninterrupted run. Restored on every rank from rank 0's checkpoint. Stored as tensors,
    ints and lists only, so checkpoints still load with ``weights_only=True``."""

    def state_dict(self) -> dict[str, Any]:
        version, words, gauss = random.getstate()
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        state = {
            "python": [version, list(words), gauss],
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        version, words, gauss = state_dict["python"]
        random.setstate((version, tuple(words), gauss))
        kind, keys, pos, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


# ------------------------------------------------------------------------------ records
class RunRecord(SaveConfigCallback):
    """Writes ``config.yaml`` (the resolved config, as LightningCLI does) and ``run.yaml`` (``run_record``)
    to the run folder, and gives both to every logger that is not a local file logger (W&B: the run's config
    panel holds the resolved config, git commit and versions)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # on every rank: under DDP ``Trainer.log_dir`` is a broadcast, and save_config runs on rank 0 only
        self.run_dir = Path(trainer.log_dir or trainer.default_root_dir)
        super().setup(trainer, pl_module, stage)

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        record = run_record(self.config.get("seed_everything"))
        folder = self.run_dir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            if not isinstance(logger, (CSVLogger, TensorBoardLogger)):
                logger.log_hyperparams({**config, "run": record})


# ------------------------------------------------------------------------------ evaluation and output
class TestBaselines(L.Callback):
    """``python -m colorlab test`` logs the three baselines beside the model: their constants come from the
    training split (``ab_statistics`` over up to ``batches`` training batches), and they are scored by the same
    metric code on the same test batches, as ``test/baseline_grey/ab_l1`` and so on.

    Args:
        batches: training batches the constants are estimated from (None: the whole split).
    """

    def __init__(self, batches: int | None = 50) -> None:
        self.batches = batches
        self.rows: dict[str, tuple[Any, Any]] = {}

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "train_dataloader"):
            self.rows = {}
            return
        if getattr(datamodule, "train_set", None) is None:
            datamodule.setup("fit")
        statistics = ab_statistics(datamodule.train_dataloader(), pl_module.device, self.batches)
        self.rows = {
            name: (constant_predictor(ab.to(pl_module.device)), colorization_metrics(f"test/{name}/").to(pl_module.device))
            for name, ab in baseline_constants(statistics).items()
        }

    def on_test_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:  # fmt: skip
        for predict, metrics in self.rows.values():
            metrics.update(predict(batch["lab"])[0], batch["lab"])

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for _, metrics in self.rows.values():
            pl_module.log_dict({k: float(v) for k, v in metrics.compute().items()})
            metrics.reset()


class ColorizedWriter(BasePredictionWriter):
    """Writes ``predict`` results as files, batch by batch, instead of keeping them in memory.

    Items read from files are colorized from the file itself at full resolution, exactly as ``colorize``
    does (the batch holds only a square crop) and written under ``output_dir`` mirroring their place below
    the DataModule's ``root``; other items (procedural scenes, arrays) as ``<index>.png`` at the batch's
    resolution.

    Args:
        output_dir: where to write; default ``<log_dir>/predictions``.
        size: the model's input size, as ``colorize --size``.
        overwrite: replace existing files.
    """

    def __init__(self, output_dir: str | None = None, size: list[int] | None = None, overwrite: bool = False) -> None:
        super().__init__(write_interval="batch")
        self.output_dir, self.size, self.overwrite = output_dir, size, overwrite
        self.summary = Summary()

    def _folder(self, trainer: L.Trainer) -> Path:
        return Path(self.output_dir or Path(trainer.log_dir or trainer.default_root_dir) / "predictions")

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.summary = Summary()

    def write_on_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, prediction: Any, batch_indices: Any,
        batch: Any, batch_idx: int, dataloader_idx: int,
    ) -> None:
        folder = self._folder(trainer)
        if "path" in prediction:
            root = Path(getattr(trainer.datamodule, "root", "") or "/")
            sources = [Path(p) for p in prediction["path"]]
            targets = [output_path(p, root, folder, None) for p in sources]
            fresh = [self.overwrite or not t.exists() for t in targets]
            self.summary.existing += [t for t, new in zip(targets, fresh) if not new]
            sources = [s for s, new in zip(sources, fresh) if new]
            targets = [t for t, new in zip(targets, fresh) if new]
            done = colorize_images(Colorizer(pl_module.color_model(), self.size), sources, targets, progress=False)
            self.summary.written += done.written
            self.summary.failed.update(done.failed)
            return
        indices = prediction.get("index", torch.arange(len(prediction["rgb"])) + batch_idx * len(prediction["rgb"]))
        for rgb, index in zip(prediction["rgb"], indices.tolist()):
            target = folder / f"{index:06d}.png"
            if self.overwrite or not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(to_uint8(rgb[None])).save(target)
                self.summary.written.append(target)
            else:
                self.summary.existing.append(target)

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        rank_zero_info(f"predictions in {self._folder(trainer)}: {self.summary}")

"""LitColorizer: the one LightningModule. A network (plain nn.Module) + an objective + metrics.

One training step, as a straight line:
uint8 RGB batch -> (device) color.batch_to_lab -> x_l, y_ab -> net -> objective.loss / objective.decode -> metrics
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable, instantiate_module
from torch import nn
from torchmetrics import MeanMetric

from colorlab import color
from colorlab._private import given_hyperparameters, hyperparameters_given
from colorlab.checkpoint import read as read_checkpoint
from colorlab.errors import ColorlabError
from colorlab.metrics import classifier_metrics, colorization_metrics
from colorlab.network import ColorModel, check_bins, run_net
from colorlab.objectives import Classification, Objective, Regression

# A network class (or any callable) taking the output channel count: ``UNet`` or ``partial(UNet, width=16)``.
NetFactory = Callable[[int], nn.Module]
_INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"  # what LightningCLI records; load_from_checkpoint uses it


class LitColorizer(L.LightningModule):
    """Train, evaluate and run any colorlab network with either objective.

    Args:
        net: the network, called with the objective's channel count (2 for regression, Q bins for
            classification); in YAML a ``class_path`` to a class in ``colorlab.models`` with its ``init_args``.
        objective: ``Regression`` or ``Classification``; default ``Regression()`` (MSE).
        optimizer: optimizer factory; default Adam, lr 1e-3.
        scheduler: optional learning-rate scheduler factory, stepped once per epoch.
        channels_last: keep the network's weights and activations in NHWC memory format (default on: on CPU it
            made a training step 1.07-1.28x faster for every catalogue net but ZhangCNN (1.02x) in
            ``make bench``; on GPUs it feeds tensor cores under bf16/fp16 mixed precision).
        compile: compile the network with ``torch.compile`` when a Trainer sets the model up (the first steps
            are slower while it compiles; checkpoints are unchanged).
        scheduler_interval: step the scheduler once per "epoch" or once per optimizer "step" (for budgets of a
            few epochs: e.g. a cosine over ``trainer.max_steps``).
        encoder_lr: learning-rate factor of the network's ``encoder`` (a pretrained part, e.g.
            ``PretrainedUNet``'s): its parameters form their own group at ``lr * encoder_lr``; schedulers scale
            both groups alike. Nets without an ``encoder`` attribute accept only 1.0.
        freeze_encoder_epochs: keep the ``encoder`` frozen (no gradient, BatchNorm statistics fixed) for this
            many epochs, then train it at ``encoder_lr``.
        init_weights: fine-tune: start from these network weights, with a fresh optimizer and schedule (not a
            resume): a zoo model's name (``python -m colorlab models``), a ``.ckpt`` checkpoint or a
            ``.safetensors`` file. They must fit the configured net exactly (the first mismatch is named). Loaded
            when a Trainer sets the model up; a checkpoint it restores (``--ckpt_path``) takes precedence.
    """

    def __init__(
        self,
        net: NetFactory,
        objective: Objective | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
        channels_last: bool = True,
        compile: bool = False,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        encoder_lr: float = 1.0,
        freeze_encoder_epochs: int = 0,
        init_weights: str | None = None,
    ) -> None:
        super().__init__()
        # Built by LightningCLI (or ``from_config``), the hparams are the run's config with class_path
        # dicts, which is what lets ``load_from_checkpoint`` rebuild net and objective from the file
        # alone. Built in Python, the same config is derived from the arguments; where it cannot be (a
        # lambda, an instance), saving a checkpoint is refused (see ``on_save_checkpoint``).
        self._not_saveable: str | None = None
        if hyperparameters_given():
            self.save_hyperparameters()
        else:
            given = {"net": net, "objective": objective, "optimizer": optimizer, "scheduler": scheduler}
            config = {name: None if value is None else _class_config(value) for name, value in given.items()}
            self._not_saveable = next((f"{k}={given[k]!r}" for k, v in config.items() if v is None and given[k]), None)
            if self._not_saveable is None:
                with given_hyperparameters(config, _INSTANTIATOR):
                    self.save_hyperparameters()
        self.objective = objective if objective is not None else Regression()
        if not isinstance(self.objective, Objective):
            raise TypeError(f"objective must be a colorlab.objectives.Objective, got {type(self.objective).__name__}")
        self.net = net(self.objective.channels)
        supports = getattr(self.net, "supports", ("regression", "classification"))
        if self.objective.kind not in supports:
            raise ColorlabError(
                f"{type(self.net).__name__} as configured supports {', '.join(supports)}, "
                f"not {self.objective.kind} (e.g. a tanh output layer cannot produce bin logits)"
            )
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        if scheduler_interval not in ("epoch", "step"):
            raise ColorlabError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if not encoder_lr >= 0 or freeze_encoder_epochs < 0:
            raise ColorlabError(
                f"encoder_lr and freeze_encoder_epochs must be >= 0, got {encoder_lr} and {freeze_encoder_epochs}"
            )
        if self.encoder is None and (encoder_lr != 1.0 or freeze_encoder_epochs):
            raise ColorlabError(
                f"encoder_lr / freeze_encoder_epochs need a net with an `encoder` part; {type(self.net).__name__} has none"
            )
        self.scheduler_interval = scheduler_interval
        self.encoder_lr, self.freeze_encoder_epochs = encoder_lr, freeze_encoder_epochs
        # The training priors, if any, also give the class-rebalanced AuC (Zhang et al. 2016).
        prior_values = getattr(self.objective, "prior_values", None)
        prior = None if prior_values is None else torch.tensor(prior_values, dtype=torch.float64)
        self.val_metrics = colorization_metrics("val/", prior)
        self.test_metrics = colorization_metrics("test/", prior)
        # image-weighted means that torchmetrics reduces over DDP ranks exactly (sums and counts), where
        # ``sync_dist`` would average the ranks' means
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        self.channels_last, self.compile_net = channels_last, compile
        if isinstance(self.objective, Classification):
            self.val_bin_metrics = classifier_metrics("val/")
            self.test_bin_metrics = classifier_metrics("test/")
        self.train_resolution: tuple[int, int] | None = None
        self.init_weights = init_weights
        self._init_weights_due = init_weights is not None  # until loaded, or a checkpoint's weights arrive

    def setup(self, stage: str) -> None:
        """Load ``init_weights`` into the net, once. Before a Trainer restores a checkpoint: its weights win."""
        if self._init_weights_due:
            from colorlab.zoo.store import load_net_weights

            load_net_weights(self.net, self.init_weights)
            self._init_weights_due = False

    @property
    def encoder(self) -> nn.Module | None:
        """The network's ``encoder`` part, if it has one (a property: registered once, under ``net``)."""
        return getattr(self.net, "encoder", None)

    def configure_model(self) -> None:
        """Called by the Trainer: the ``channels_last`` and ``compile`` switches."""
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)
        if self.compile_net and not getattr(self, "_compiled", False):
            self.net.compile()  # in place: the state_dict keys stay those of the plain network
            self._compiled = True

    # ---------------------------------------------------------------- data on the device
    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """The uint8 batch becomes float32 Lab here, on the device, never in data workers."""
        batch["lab"] = color.batch_to_lab(batch)
        return batch

    # ---------------------------------------------------------------- forward
    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """Raw net output for x_l (B, 1, H, W) = L/100 of any size (see ``run_net``)."""
        return run_net(self.net, x_l, self.channels_last)

    def color_model(self) -> ColorModel:
        """The net and objective as a ColorModel (``colorlab.network``, what inference runs), sharing their weights."""
        return ColorModel(self.net, self.objective, self.train_resolution)

    def colorize(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 -> (B, 3, H, W) Lab prediction at the input's resolution."""
        ab_hat = self.objective.decode(self(x_l), x_l.shape[-2:])
        return color.denormalize(x_l, ab_hat)

    # ---------------------------------------------------------------- steps
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        x_l, y_ab = color.normalize(batch["lab"])
        self.train_resolution = tuple(x_l.shape[-2:])
        loss = self.objective.loss(self(x_l), y_ab)
        self.log("train/loss", loss, prog_bar=True, batch_size=x_l.shape[0])
        return loss

    def _evaluate(self, batch: dict[str, Any], stage: str) -> None:
        lab = batch["lab"]
        x_l, y_ab = color.normalize(lab)
        out = self(x_l)
        loss = self.val_loss if stage == "val" else self.test_loss
        loss.update(self.objective.loss(out, y_ab), weight=lab.shape[0])
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", batch_size=lab.shape[0])
        lab_hat = color.denormalize(x_l, self.objective.decode(out, x_l.shape[-2:]))
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        metrics.update(lab_hat, lab)
        self.log_dict(metrics, batch_size=lab.shape[0])
        if isinstance(self.objective, Classification):
            bin_metrics = self.val_bin_metrics if stage == "val" else self.test_bin_metrics
            bin_metrics.update(out, lab[:, 1:])
            self.log_dict(bin_metrics, batch_size=lab.shape[0])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Items read from files come back as {"path": [str]}: their batch holds a square crop, so
        ``colorlab.callbacks.ColorizedWriter`` colorizes each file itself, at its full resolution. Other items
        come back as {"rgb": (B, 3, H, W) float RGB in [0, 1] at the batch's resolution (+ "index")}."""
        if "path" in batch:
            return {"path": list(batch["path"])}
        x_l, _ = color.normalize(batch["lab"])
        result = {"rgb": color.lab_to_rgb(self.colorize(x_l))}
        if "index" in batch:
            result["index"] = batch["index"]
        return result

    # ---------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> Any:
        # Parameters frozen for good (e.g. a fusion net's feature extractor) get no optimizer state; an encoder
        # frozen for its first epochs is in the optimizer from the start, in its own group, and gets no update
        # while its gradients are None.
        own_group = self.encoder is not None and (self.encoder_lr != 1.0 or self.freeze_encoder_epochs > 0)
        encoder = list(self.encoder.parameters()) if own_group else []
        in_encoder = {id(p) for p in encoder}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in in_encoder]
        optimizer = self.optimizer_factory(rest)
        if encoder:
            group = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
            optimizer.add_param_group({**group, "params": encoder, "lr": group["lr"] * self.encoder_lr})
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}

    def on_train_epoch_start(self) -> None:
        """The encoder is frozen, in eval mode, for the first ``freeze_encoder_epochs`` epochs (on resume too)."""
        if self.encoder is None or not self.freeze_encoder_epochs:
            return
        frozen = self.current_epoch < self.freeze_encoder_epochs
        self.encoder.requires_grad_(not frozen)
        self.encoder.train(not frozen)

    # ---------------------------------------------------------------- checkpoints
    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls, checkpoint_path: Any, map_location: Any = None, strict: bool | None = None, **kwargs: Any
    ) -> LitColorizer:
        """Lightning's ``load_from_checkpoint``, safe for a file from anyone: ``colorlab.checkpoint.read``
        first (weights_only unpickling; class names checked before anything is imported), then Lightning's
        own loading with ``weights_only=True``. ``kwargs`` override saved hyperparameters."""
        read_checkpoint(checkpoint_path)
        return super().load_from_checkpoint(
            checkpoint_path, map_location=map_location, strict=strict, weights_only=True, **kwargs
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Make the checkpoint self-contained: the bins and normalisation it was trained with, its training
        resolution, and the priors' values in place of a priors file path."""
        if self._not_saveable is not None:
            raise ColorlabError(
                f"LitColorizer was built in Python with {self._not_saveable}, which a checkpoint cannot name as a "
                "class_path, so the checkpoint would not load. Pass a class or a functools.partial of one with "
                "keyword arguments of plain values (net=functools.partial(UNet, width=16), "
                "optimizer=functools.partial(torch.optim.SGD, lr=0.1)), or build the model from a config dict with "
                "colorlab.module.from_config."
            )
        checkpoint["colorlab"] = {
            "l_scale": color.L_SCALE,
            "ab_scale": color.AB_SCALE,
            "ab_bins": color.ab_bins(),
            "train_resolution": self.train_resolution,
        }
        objective = checkpoint.get("hyper_parameters", {}).get("objective")
        init = objective.get("init_args", objective) if isinstance(objective, dict) else {}
        if isinstance(init.get("priors"), str):  # only under LightningCLI / from_config: a config dict
            checkpoint["hyper_parameters"] = copy.deepcopy(checkpoint["hyper_parameters"])
            objective = checkpoint["hyper_parameters"]["objective"]
            init = objective.get("init_args", objective)
            init["priors"] = self.objective.prior_values

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("colorlab", {})
        check_bins(saved.get("ab_bins"), "checkpoint")
        self.train_resolution = saved.get("train_resolution")
        self._init_weights_due = False  # a checkpoint's weights are never replaced by init_weights


def from_config(config: dict[str, Any]) -> LitColorizer:
    """Build a LitColorizer from a dict shaped like an experiment YAML's ``model:`` section, exactly as
    LightningCLI does, so its checkpoints are self-contained too."""
    with given_hyperparameters(config, _INSTANTIATOR):
        return instantiate_module(LitColorizer, config)


def _is_plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return value is None or isinstance(value, (bool, int, float, str))


def _class_config(factory: Any) -> dict[str, Any] | None:
    """The ``{"class_path", "init_args"}`` config that rebuilds ``factory``: a class, a ``functools.partial`` of
    one with keyword arguments, or an Objective (its recorded ``init_args``); None when there is none (a lambda,
    a class defined in a function or in ``__main__``, arguments that are not plain values)."""
    if isinstance(factory, Objective):
        cls, init_args = type(factory), dict(factory.init_args)
    elif isinstance(factory, functools.partial) and isinstance(factory.func, type) and not factory.args:
        cls, init_args = factory.func, dict(factory.keywords)
    elif isinstance(factory, type):
        cls, init_args = factory, {}
    else:
        return None
    if "<locals>" in cls.__qualname__ or cls.__module__ == "__main__" or not _is_plain(init_args):
        return None
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": init_args}

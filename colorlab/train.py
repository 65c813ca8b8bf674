"""``python -m colorlab fit | validate | test | predict``: LightningCLI over LitColorizer and any colorlab
DataModule, configured by an experiment YAML (``--config experiments/places_unet.yaml``), saving
``config.yaml`` and ``run.yaml`` per run. ``colorlab.demo`` trains through it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from colorlab import data, models, ops
from colorlab._lazy import import_all
from colorlab.callbacks import (
    ColorizedWriter,
    LatestCheckpoint,
    NonFiniteLossGuard,
    RngState,
    RunRecord,
    SampleGrid,
    TestBaselines,
)
from colorlab.checkpoint import read as read_checkpoint
from colorlab.data.base import ColorDataModule
from colorlab.module import LitColorizer
from colorlab.ops import AtomicCheckpointIO, quiet_known_warnings

import_all(data)  # LightningCLI (jsonargparse) offers the subclasses that are imported: all of them
import_all(models)


class ColorlabCLI(LightningCLI):
    """LightningCLI with colorlab's defaults.

    - Checkpoints (atomic writes): the best by ``val/ab_l1`` (``--checkpoint.*``), one every
      ``--step_checkpoint.every_n_train_steps`` (500) steps, and ``last.ckpt`` after either and at the end of
      training (``callbacks.LatestCheckpoint``); ``--ckpt_path last``
      resumes the newest ``last.ckpt`` under ``trainer.default_root_dir``, mid-epoch included.
    - Every run folder (``<default_root_dir>/lightning_logs/version_N``) holds ``config.yaml``, ``run.yaml``
      (git commit, dirty flag, package versions, seed), ``metrics.csv``, ``checkpoints/`` and ``samples/``;
      a W&B or TensorBoard logger chosen in YAML (``trainer.logger``) comes in addition to that folder.
    - A non-finite loss stops the run before its update; RNG states travel in checkpoints.
    """

    def __init__(self, args: list[str] | None = None, **kwargs: Any) -> None:
        quiet_known_warnings()
        super().__init__(
            LitColorizer,
            ColorDataModule,
            subclass_mode_data=True,
            save_config_callback=RunRecord,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,  # the optimizer is LitColorizer(optimizer=...)
            trainer_defaults={
                "callbacks": [SampleGrid(), ColorizedWriter(), NonFiniteLossGuard(), RngState(), TestBaselines()],
            },
            args=args,
            **kwargs,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # both write last.ckpt (no -v1 copies): it is always the newer of the two
        parser.set_defaults({"checkpoint.monitor": "val/ab_l1", "checkpoint.mode": "min", "checkpoint.save_last": True,
                             "checkpoint.filename": "best-{epoch}", "checkpoint.enable_version_counter": False})
        parser.add_lightning_class_args(LatestCheckpoint, "step_checkpoint")  # last.ckpt = the final state
        parser.set_defaults({"step_checkpoint.every_n_train_steps": 500, "step_checkpoint.save_top_k": 1,
                             "step_checkpoint.save_last": True, "step_checkpoint.filename": "{step}",
                             "step_checkpoint.enable_version_counter": False})  # fmt: skip

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        config.trainer.logger = ops.configure_loggers(
            config.trainer.logger, config.trainer.default_root_dir or ".", config.get("config")
        )

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # not one the user chose
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def after_fit(self) -> None:
        ops.finish_wandb(self.trainer)

    after_validate = after_test = after_predict = after_fit

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """A checkpoint named by ``--ckpt_path`` is read safely: ``colorlab.checkpoint.read`` checks it before
        LightningCLI reads its hyperparameters (which imports their class_paths), and the trainer's own load
        (``last`` too) is ``weights_only``. ``predict`` keeps nothing in memory: ColorizedWriter writes files."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand is None:
            return
        step = self.config[subcommand]
        if step.get("ckpt_path") == "last":
            step.ckpt_path = ops.newest_last_checkpoint(step.trainer.default_root_dir or ".")
        if step.get("ckpt_path"):
            if Path(step.ckpt_path).is_file():
                read_checkpoint(step.ckpt_path)
            step.weights_only = True
        if subcommand == "predict" and step.get("return_predictions") is None:
            step.return_predictions = False


def fit(args: list[str]) -> ColorlabCLI:
    """``python -m colorlab fit ARGS``: train."""
    return ColorlabCLI(["fit", *args])


def _zoo_model_as_checkpoint(args: list[str]) -> list[str]:
    """``--model NAME`` of a zoo model becomes ``--ckpt_path`` to it (``colorlab.zoo.checkpoint_args``)."""
    from colorlab import zoo

    return zoo.checkpoint_args(args) or args


def validate(args: list[str]) -> ColorlabCLI:
    """``python -m colorlab validate ARGS``: evaluate a checkpoint (or ``--model NAME``) on the validation split."""
    return ColorlabCLI(["validate", *_zoo_model_as_checkpoint(args)])


def test(args: list[str]) -> ColorlabCLI:
    """``python -m colorlab test ARGS``: evaluate a checkpoint (or ``--model NAME``) on the test split, beside the
    three baselines."""
    return ColorlabCLI(["test", *_zoo_model_as_checkpoint(args)])


def predict(args: list[str]) -> ColorlabCLI:
    """``python -m colorlab predict ARGS``: colorize the predict split into files (``--model NAME`` or a checkpoint)."""
    return ColorlabCLI(["predict", *_zoo_model_as_checkpoint(args)])

"""Every use of a private attribute of Lightning, torch, wandb or timm, in one place: an upgrade that changes
one of them breaks this module and ``tests/test_private.py``, not the product. Tested with the Lightning range
``pyproject.toml`` states (2.5 and 2.6). Lightning is imported where it is used: modules below ``module.py``
(metrics) use this one without importing Lightning."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

if TYPE_CHECKING:
    from lightning.pytorch.callbacks import ModelCheckpoint

TIMM_BUILDER_LOGGER = "timm.models._builder"
"""The logger of timm's weight loading (a private module), whose note on a dropped classifier is expected."""


# ------------------------------------------------------------------------------ Lightning: hyperparameters
def hyperparameters_given() -> bool:
    """True while LightningCLI (or ``given_hyperparameters``) instantiates a LightningModule: it hands the
    run's config to ``save_hyperparameters`` through a private context variable."""
    from lightning.pytorch.core.mixins.hparams_mixin import (
        _given_hyperparameters,  # Lightning only where used
    )

    return _given_hyperparameters.get() is not None


def given_hyperparameters(hparams: dict[str, Any], instantiator: Any) -> contextlib.AbstractContextManager:
    """The context LightningCLI instantiates a module in: ``save_hyperparameters`` records ``hparams`` (class_path
    dicts) and ``load_from_checkpoint`` rebuilds them with ``instantiator``."""
    from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters_context

    return _given_hyperparameters_context(hparams=hparams, instantiator=instantiator)


# ------------------------------------------------------------------------------ Lightning: ModelCheckpoint
def save_last_checkpoint(callback: ModelCheckpoint, trainer: Any) -> bool:
    """Write ``callback``'s ``last.ckpt`` now, as ModelCheckpoint does beside a top-k save (same file name,
    same monitor candidates); False, writing nothing, where the callback would skip this step (sanity check,
    fast_dev_run, a step already saved)."""
    if callback._should_skip_saving_checkpoint(trainer):
        return False
    callback._save_last_checkpoint(trainer, callback._monitor_candidates(trainer))
    return True


# ------------------------------------------------------------------------------ wandb
def finish_wandb_run(logger: Any) -> None:
    """End a WandbLogger's run, if it started one, and forget it: Lightning keeps it open (``_experiment``),
    and the next run in the process would log into it."""
    if logger._experiment is not None:
        logger._experiment.finish()
        logger._experiment = None


# ------------------------------------------------------------------------------ torch
def tensor_version(x: torch.Tensor) -> int:
    """torch's in-place modification counter of ``x`` (``Tensor._version``); -1 for inference tensors, which
    have none (``Trainer.validate`` runs in inference mode)."""
    return -1 if x.is_inference() else x._version


class BatchIndexLoader(DataLoader):
    """A DataLoader whose iterators take their batches of indices from ``index_batches()`` (default: the batch
    sampler). torch's iterators read them from the private ``_index_sampler``; overriding it is the one way
    to change which batches an epoch serves without a new sampler (which Lightning would re-create)."""

    def index_batches(self) -> Iterable[list[int]]:
        return self.batch_sampler  # type: ignore[return-value]

    @property
    def _index_sampler(self) -> Any:
        return self.index_batches() if self._auto_collation else self.sampler

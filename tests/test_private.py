"""The private attributes of Lightning, torch, wandb and timm that ``colorlab._private`` uses still exist and
behave as it assumes: an upgrade that changes one fails here, by name."""

import importlib
import logging

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers import WandbLogger

from colorlab import _private


def test_given_hyperparameters_context_is_what_save_hyperparameters_reads():
    class Module(BoringModel):
        def __init__(self, width: int = 1) -> None:
            super().__init__()
            self.save_hyperparameters()

    assert not _private.hyperparameters_given()
    with _private.given_hyperparameters({"width": {"class_path": "x.Y"}}, instantiator=object()):
        assert _private.hyperparameters_given()
        module = Module(width=3)
    assert not _private.hyperparameters_given()
    assert module.hparams["width"] == {"class_path": "x.Y"}  # the given config, not the call's arguments
    assert "_instantiator" in module.hparams  # what load_from_checkpoint rebuilds the config with
    assert Module(width=3).hparams == {"width": 3}


def test_save_last_checkpoint_writes_last_ckpt_now(tmp_path):
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0, every_n_train_steps=100)
    written = {}

    class AtStepTwo(Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            if trainer.global_step == 2:
                written["first"] = _private.save_last_checkpoint(checkpoint, trainer)
                written["step"] = torch.load(tmp_path / "last.ckpt", weights_only=False)["global_step"]
                written["again"] = _private.save_last_checkpoint(checkpoint, trainer)

    trainer = Trainer(max_steps=3, callbacks=[AtStepTwo(), checkpoint], logger=False, enable_progress_bar=False,
                      enable_model_summary=False, limit_val_batches=0)  # fmt: skip
    trainer.fit(BoringModel())
    assert written == {"first": True, "step": 2, "again": False}  # the second call: this step is saved already


def test_wandb_logger_keeps_its_run_in_experiment(tmp_path):
    logger = WandbLogger(save_dir=str(tmp_path), offline=True)
    assert logger._experiment is None  # no run started yet

    class Run:
        finished = False

        def finish(self) -> None:
            self.finished = True

    run = logger._experiment = Run()
    _private.finish_wandb_run(logger)
    assert run.finished and logger._experiment is None


def test_tensor_version_counts_in_place_changes():
    x = torch.zeros(3)
    before = _private.tensor_version(x)
    x.add_(1)
    assert _private.tensor_version(x) == before + 1
    with torch.inference_mode():
        assert _private.tensor_version(torch.zeros(3)) == -1


def test_batch_index_loader_serves_the_batches_index_batches_gives():
    class SkipFirst(_private.BatchIndexLoader):
        def index_batches(self):
            return list(self.batch_sampler)[1:]

    assert [b.tolist() for b in SkipFirst(torch.arange(6), batch_size=2)] == [[2, 3], [4, 5]]
    assert [b.tolist() for b in SkipFirst(torch.arange(6), batch_size=2, num_workers=1)] == [[2, 3], [4, 5]]


def test_timm_builder_logger_is_timms_weight_loading_module():
    module = importlib.import_module(_private.TIMM_BUILDER_LOGGER)
    assert hasattr(module, "load_pretrained") and logging.getLogger(_private.TIMM_BUILDER_LOGGER).name == module.__name__

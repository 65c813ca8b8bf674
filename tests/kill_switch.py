"""A callback for tests that kill a training process: ``--trainer.callbacks+ kill_switch.SigkillAt
--trainer.callbacks.init_args.step N`` (with this folder on PYTHONPATH)."""

import os
import signal

import lightning as L


class SigkillAt(L.Callback):
    """SIGKILLs its own process as training step ``step`` starts: after every checkpoint of step ``step`` is
    on disk (checkpoint callbacks save at the end of the step before), before any work of the next one.

    Args:
        step: the ``global_step`` (optimizer steps done) at which the process dies.
    """

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)

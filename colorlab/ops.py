"""What keeps long runs safe and traceable: atomic checkpoint files, a record of what ran (config, git commit,
package versions, seed) in every run folder and in every logger, RNG state in checkpoints (exact resume), a
stop on a non-finite loss, and a console that shows what matters.

All of it is wired in by ``colorlab.cli.ColorlabCLI``; nothing here is needed to use a checkpoint.
"""

from __future__ import annotations

import importlib.metadata
import logging
import netrc
import os
import platform
import random
import socket
import subprocess
import sys
import time
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from jsonargparse import Namespace
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

REPO = Path(__file__).resolve().parents[1]
RECORDED_PACKAGES = ("colorlab", "torch", "torchvision", "lightning", "torchmetrics", "kornia", "timm", "wandb",
                     "litdata", "jsonargparse", "numpy", "pillow")  # fmt: skip


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint files are complete or absent: written to a temporary file in the same folder, flushed to
    disk, then renamed over the target (``os.replace`` is atomic on POSIX and Windows). Lightning's own
    writer stages in the system temp folder and *copies* across file systems, so a kill mid-copy can leave
    a truncated ``last.ckpt``. Remote paths (``s3://`` ...) keep Lightning's fsspec transaction."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return None


def git_state(repo: Path = REPO) -> dict[str, Any]:
    """{"commit": sha or None, "dirty": bool or None} of the checkout colorlab runs from (None outside git)."""
    try:
        run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True, timeout=10, check=False)
        head = run("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = run("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; elsewhere what ``platform`` knows)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def device_description() -> str:
    """The machine a run trains on, in words: the CUDA devices, or the CPU model and PyTorch's thread count."""
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return ", ".join(f"{names.count(n)} x {n}" for n in dict.fromkeys(names))
    return f"CPU ({cpu_model()}), {torch.get_num_threads()} thread(s) of {os.cpu_count()} logical cores"


def run_record(seed: Any) -> dict[str, Any]:
    """What a run needs to be reproduced: command, git state, package versions, seed, machine."""
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "git": git_state(),
        "packages": versions,
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
        "seed": seed,
        "host": socket.gethostname(),
        "device": device_description(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


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


class LatestCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint whose ``last.ckpt`` is always the final state of a fit.

    Lightning 2.6 writes ``last`` only beside a top-k save: a run whose monitored metric stopped improving,
    or that stopped on ``max_time`` or ``max_steps`` between two periodic saves, kept an older ``last.ckpt``
    (measured: a 658-step run left step 500), so ``--ckpt_path last`` and ``report --checkpoint last`` lost
    the end of the run. This one also writes ``last.ckpt`` when training ends, unless it saved at that step.
    """

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
            return
        super().on_train_end(trainer, pl_module)


class NonFiniteLossError(ValueError):
    """A training loss that is NaN or infinite (a ValueError so that ``python -m colorlab`` prints one line)."""


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


# ------------------------------------------------------------------------------ loggers
CSV_LOGGER = "lightning.pytorch.loggers.CSVLogger"
_RUN_FOLDER_LOGGERS = (CSV_LOGGER, "lightning.pytorch.loggers.TensorBoardLogger")


def _class_path(entry: Any) -> str:
    return str(entry.get("class_path", "")) if isinstance(entry, (dict, Namespace)) else ""


def _wandb_key_present() -> bool:
    """An API key in the environment or in ~/.netrc (what ``wandb login`` writes); no network involved."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        host = urllib.parse.urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def configure_loggers(logger: Any, root: str, configs: list[Any] | None) -> Any:
    """The ``trainer.logger`` LightningCLI instantiates, from what the user chose.

    - unset / ``true``: a CSVLogger under ``root`` (Lightning's default, without its TensorBoard notice);
    - any logger list whose first entry is not CSV or TensorBoard (W&B): a CSVLogger is put first, so the run
      folder (config, metrics.csv, checkpoints, samples) stays ``root/lightning_logs/version_N``;
    - WandbLogger: ``save_dir`` defaults to ``root``, the run name to the experiment file's stem (not under a
      sweep agent, which names runs itself), and without an API key it logs offline (``wandb sync`` later)
      instead of prompting for a login. ``WANDB_MODE=offline`` / ``disabled`` are honoured as set.
    """
    if logger is False:
        return False
    entries = [] if logger in (None, True) else list(logger) if isinstance(logger, list) else [logger]
    for entry in entries:
        if not _class_path(entry).endswith("WandbLogger"):
            continue
        init = entry.init_args
        if init.get("save_dir") in (None, "."):
            init.save_dir = str(root)
        if init.get("name") is None and configs and "WANDB_SWEEP_ID" not in os.environ:
            init.name = Path(str(configs[-1])).stem
        if "WANDB_MODE" not in os.environ and not init.get("offline") and not _wandb_key_present():
            print("W&B: no API key (WANDB_API_KEY or `wandb login`): logging offline; upload with `wandb sync`")
            os.environ["WANDB_MODE"] = "offline"
    if not entries or _class_path(entries[0]) not in _RUN_FOLDER_LOGGERS:
        entries.insert(0, Namespace(class_path=CSV_LOGGER, init_args=Namespace(save_dir=str(root))))
    return entries[0] if len(entries) == 1 else entries


def finish_wandb(trainer: L.Trainer | None) -> None:
    """End the W&B runs of ``trainer`` (Lightning leaves them open: the next run in the process would reuse it)."""
    for logger in trainer.loggers if trainer is not None else []:
        if type(logger).__name__ == "WandbLogger" and logger._experiment is not None:
            logger._experiment.finish()
            logger._experiment = None


def newest_last_checkpoint(root: str) -> str:
    """What ``--ckpt_path last`` means: the most recently written ``last.ckpt`` under ``root``. Lightning's own
    ``last`` only looks in the new run's (empty) folder and would silently start from scratch."""
    found = [p for p in Path(root).glob("**/checkpoints/last*.ckpt") if p.is_file()]
    if not found:
        raise FileNotFoundError(f"--ckpt_path last: no checkpoints/last.ckpt under {Path(root).resolve()} "
                                f"(set --trainer.default_root_dir to the folder the run wrote to)")  # fmt: skip
    newest = max(found, key=lambda p: p.stat().st_mtime)
    print(f"resuming from {newest}")
    return str(newest)


# ------------------------------------------------------------------------------ console
# Messages that say nothing about the user's run. Each is matched exactly, so every other warning (about the
# user's data, a real misconfiguration) still shows.
QUIET_WARNINGS = (
    # the worker count is colorlab's deliberate choice: all cores but one (data.base.default_workers), or 0
    # for the rendered scenes, which are faster in the main process
    r"The '\w+_dataloader' does not have many workers which may be a bottleneck",
    # LightningCLI's advice to pass ``args`` only from Python: colorlab's own commands (demo) do exactly that
    r"LightningCLI's args parameter is intended to run from within Python",
    # torch deprecates LeafSpec, which Lightning 2.6 itself still uses (lightning/pytorch/utilities/_pytree.py)
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # the Lab conversion lives in LitColorizer.on_after_batch_transfer on purpose: one place for every
    # DataModule (README "What a run does"); Lightning notes that the module's hook is used, which it is
    r"You have overridden `on_after_batch_transfer` in `LightningModule` but have passed in a `LightningDataModule`",
    # the resumed run writes into a folder of its own; a re-saved config overwrites by request
    r"Experiment logs directory .* exists and is not empty",
)
# Lightning's advertisements for its cloud products, logged at INFO on every run
_QUIET_INFO = ("💡 Tip:",)


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_QUIET_INFO)


def quiet_known_warnings() -> None:
    """Silence ``QUIET_WARNINGS`` (message regexes) and Lightning's product tips, for this process."""
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _NoTips) for f in log.filters):
            log.addFilter(_NoTips())

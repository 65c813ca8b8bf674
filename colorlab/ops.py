"""The plumbing of runs and commands, one concern per section:

- checkpoint files: atomic writes, and what ``--ckpt_path last`` means;
- run record: what ran (command, git commit, package versions, seed, machine), for ``run.yaml``;
- loggers: the ``trainer.logger`` LightningCLI builds from the user's choice, and ending W&B runs;
- console: known warnings and Lightning's product tips silenced.

``colorlab.train.ColorlabCLI`` and the commands use these; the callbacks are in ``colorlab.callbacks``, the device
a command runs on in ``colorlab.machine``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import netrc
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from jsonargparse import Namespace
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_info

from colorlab._private import finish_wandb_run
from colorlab.errors import MissingFileError
from colorlab.machine import device_description

REPO = Path(__file__).resolve().parents[1]
RECORDED_PACKAGES = ("colorlab", "torch", "torchvision", "lightning", "torchmetrics", "kornia", "timm", "wandb",
                     "litdata", "jsonargparse", "numpy", "pillow")  # fmt: skip


# ------------------------------------------------------------------------------ checkpoint files
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


def newest_last_checkpoint(root: str) -> str:
    """What ``--ckpt_path last`` means: the most recently written ``last.ckpt`` under ``root``. Lightning's own
    ``last`` only looks in the new run's (empty) folder and would silently start from scratch."""
    found = [p for p in Path(root).glob("**/checkpoints/last*.ckpt") if p.is_file()]
    if not found:
        raise MissingFileError(f"--ckpt_path last: no checkpoints/last.ckpt under {Path(root).resolve()} "
                                f"(set --trainer.default_root_dir to the folder the run wrote to)")  # fmt: skip
    newest = max(found, key=lambda p: p.stat().st_mtime)
    rank_zero_info(f"resuming from {newest}")
    return str(newest)


# ------------------------------------------------------------------------------ run record
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
            rank_zero_info("W&B: no API key (WANDB_API_KEY or `wandb login`): logging offline; upload with `wandb sync`")
            os.environ["WANDB_MODE"] = "offline"
    if not entries or _class_path(entries[0]) not in _RUN_FOLDER_LOGGERS:
        entries.insert(0, Namespace(class_path=CSV_LOGGER, init_args=Namespace(save_dir=str(root))))
    return entries[0] if len(entries) == 1 else entries


def finish_wandb(trainer: L.Trainer | None) -> None:
    """End the W&B runs of ``trainer`` (Lightning leaves them open: the next run in the process would reuse it)."""
    for logger in trainer.loggers if trainer is not None else []:
        if type(logger).__name__ == "WandbLogger":
            finish_wandb_run(logger)


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

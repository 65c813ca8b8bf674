"""Shared fixtures.

Layout: ``test_<module>.py`` tests one module of the package (``test_data_<family>.py`` one DataModule,
``test_checkpoint_safety.py`` ``checkpoint.py``, ``test_activation_maps.py`` / ``test_test_baselines.py`` two
callbacks); the end-to-end runs of the commands are ``test_cli.py``, ``test_fit_everything.py``,
``test_smoke_real.py`` and ``test_ops_<concern>.py`` (resume, DDP, precision, validation, W&B, console).
Tests that take more than seconds carry the ``slow`` marker.

One torch thread per test process: `make test` runs one pytest worker per core, and two threads per worker on
2 cores made the suite 3x slower through oversubscription."""

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""Real data sets beside the repository (``<repo>/../shared/data``), where CI and developers keep them."""


@pytest.fixture(scope="session")
def shared_tiny_imagenet() -> Path | None:
    """The real Tiny ImageNet (``<repo>/../shared/data/tiny-imagenet-200``) when present, else None."""
    path = SHARED_DATA / "tiny-imagenet-200"
    return path if path.is_dir() else None


# ---------------------------------------------------------------- tiny trained runs (evaluate and report tests)
TINY_DATA = ["--data.init_args.train_size", "32", "--data.init_args.val_size", "8", "--data.init_args.test_size", "8",
             "--data.init_args.batch_size", "8"]  # fmt: skip


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """Two run folders trained through the CLI for 4 steps: the demo U-Net classifier and an MSE regression."""
    from colorlab.cli import cli_main

    config = str(Path(__file__).resolve().parents[1] / "experiments/demo.yaml")
    fast = ["--trainer.max_steps", "4", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.log_every_n_steps", "1", "--model.net.init_args.width", "4", *TINY_DATA]  # fmt: skip
    tmp = tmp_path_factory.mktemp("runs")
    runs = []
    regression = ["--model.objective", "colorlab.objectives.Regression", "--trainer.max_time", "00:00:10:00"]
    for name, extra in (("cls", []), ("reg", regression)):  # max_time: Lightning's Timer state in the checkpoint
        cli = cli_main(["fit", "--config", config, *fast, *extra, "--trainer.default_root_dir", str(tmp / name)])
        runs.append(Path(cli.trainer.log_dir))
    return runs

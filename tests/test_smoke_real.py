"""CI smoke fit: the real Tiny ImageNet experiment configs (regression; classification with priors ->
rebalanced fit) train for a few steps, validate, reload from the checkpoint, and lower the validation loss.
On the real Tiny ImageNet when it is beside the repository (conftest's ``shared_tiny_imagenet``), otherwise
on a generated Tiny ImageNet in the publisher's layout."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import data_fixtures as fx
import pytest
import torch

from colorlab import color
from colorlab.cli import cli_main
from colorlab.module import LitColorizer

ROOT = Path(__file__).resolve().parents[1]
# Small widths and batches keep each fit within seconds on 2 cores; lr 1e-3 instead of the configs' 3e-5 so
# that 30 steps visibly lower the loss (the configs' other settings, clipping and weight decay, stay).
FAST = [
    "--model.net.init_args.width", "8", "--model.optimizer.init_args.lr", "1e-3", "--data.init_args.batch_size", "16",
    "--data.init_args.num_workers", "0", "--trainer.limit_val_batches", "2", "--trainer.num_sanity_val_steps", "0",
    "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
]  # fmt: skip
CASES = {"regression": "tinyimagenet_resnet_regression", "classification": "tinyimagenet_unet_cls_rebal"}


@pytest.fixture(scope="module")
def tiny_imagenet(tmp_path_factory, shared_tiny_imagenet) -> tuple[str, str]:
    if shared_tiny_imagenet is not None:
        return str(shared_tiny_imagenet), "real"
    return str(fx.make_tiny_imagenet(tmp_path_factory.mktemp("tiny"))[0]), "generated"


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_smoke_fit_real_experiment(case, tiny_imagenet, tmp_path):
    root, source = tiny_imagenet
    config = str(ROOT / f"experiments/{CASES[case]}.yaml")
    common = ["--config", config, "--data.init_args.root", root, *FAST, "--trainer.default_root_dir", str(tmp_path)]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generated set holds unreadable files on purpose
        if case == "classification":  # priors of the training split first, as the config's header says
            priors = cli_main(["priors", "--config", config, "--data.init_args.root", root, "--max_batches", "4",
                               "--data.init_args.batch_size", "64", "--output", str(tmp_path / "priors.pt")])  # fmt: skip
            common += ["--model.objective.init_args.priors", str(priors)]
        before = cli_main(["validate", *common]).trainer.callback_metrics["val/loss"].item()
        cli = cli_main(["fit", *common, "--trainer.max_steps", "30", "--trainer.val_check_interval", "30",
                        "--trainer.check_val_every_n_epoch", "null", "--trainer.max_epochs", "-1"])  # 30 steps, any epochs
        ckpt = Path(cli.trainer.log_dir) / "checkpoints/last.ckpt"
        after = cli_main(["validate", *common, "--ckpt_path", str(ckpt)]).trainer.callback_metrics["val/loss"].item()
    seconds = time.perf_counter() - start
    print(f"\n{source} Tiny ImageNet, {case}: val/loss {before:.4f} -> {after:.4f} after 30 steps ({seconds:.0f} s)")
    assert cli.trainer.global_step == 30
    assert after < before
    if case == "classification":
        assert cli.model.objective.rebalance and not torch.all(cli.model.objective.class_weights == 1)
    model = LitColorizer.load_from_checkpoint(ckpt, map_location="cpu").eval()
    x_l = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.colorize(x_l), cli.model.cpu().eval().colorize(x_l))
    assert model.colorize(x_l).shape == (2, 3, 64, 64) and color.ab_bins().shape[0] > 0

"""End to end through the CLI as a user types it: a few training steps on every DataModule, and every
catalogue network with each objective behind LitColorizer (or a clear refusal)."""

from __future__ import annotations

import inspect
import warnings
from functools import partial
from pathlib import Path

import data_fixtures as fx
import pytest
import torch

from colorlab import color, models
from colorlab.cli import cli_main
from colorlab.module import LitColorizer
from colorlab.objectives import Classification, Regression

ROOT = Path(__file__).resolve().parents[1]
TINY_NET = {"width": 4, "pretrained": False, "extractor": "mobilenetv3_small_050"}

DATA = {  # DataModule class path, fixture in the publisher's layout, extra init args
    "tiny-imagenet": ("TinyImageNetDataModule", fx.make_tiny_imagenet, []),
    "places-folders": ("PlacesDataModule", fx.make_places_folders, []),
    "places-lists": ("PlacesDataModule", fx.make_places_lists, []),
    "places-challenge": ("PlacesDataModule", partial(fx.make_places_lists, challenge=True),
                         ["--data.train_list", "challenge"]),
    "places-extra69": ("PlacesDataModule", fx.make_places_extra, []),
    "fruit-recognition": ("FruitDataModule", fx.make_fruit_recognition, []),
    "fruits-360": ("FruitDataModule", fx.make_fruits360, []),
    "animals-10": ("AnimalsDataModule", fx.make_animals10, ["--data.classes", "[dog, chicken, horse, cat]"]),
    "folder": ("FolderDataModule", fx.make_folder, []),
    "npy": ("KaggleNpyDataModule", lambda tmp: fx.make_npy(tmp), []),
}  # fmt: skip

FAST = [
    "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
    "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
    "--trainer.log_every_n_steps", "1", "--model.net.init_args.width", "4",
    "--data.image_size", "16", "--data.batch_size", "4", "--data.num_workers", "0",
]  # fmt: skip


def fit(tmp_path: Path, data_args: list[str]):
    """experiments/folder_unet.yaml (U-Net classifier) with another DataModule, as a user would switch it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixtures hold unreadable files on purpose
        return cli_main(["fit", "--config", str(ROOT / "experiments/folder_unet.yaml"), *data_args, *FAST,
                         "--trainer.default_root_dir", str(tmp_path)])  # fmt: skip


@pytest.mark.parametrize("case", sorted(DATA))
def test_fit_a_few_steps_on_every_datamodule(case, tmp_path):
    class_name, make, extra = DATA[case]
    root = make(tmp_path / "data")[0]
    cli = fit(tmp_path, ["--data", f"colorlab.data.{class_name}", "--data.root", str(root), *extra])
    assert cli.trainer.global_step == 2
    logged = cli.trainer.logged_metrics
    assert torch.isfinite(logged["train/loss"]) and torch.isfinite(logged["val/ab_l1"])
    assert (Path(cli.trainer.log_dir) / "checkpoints/last.ckpt").is_file()


def test_folder_experiment_trains_on_any_folder_given_as_root(tmp_path):
    root = fx.make_folder(tmp_path / "photos")[0]
    cli = fit(tmp_path, ["--data.root", str(root)])
    assert type(cli.datamodule).__name__ == "FolderDataModule" and cli.trainer.global_step == 2


def test_fit_streams_from_shards(tmp_path):
    root = fx.make_fruit_recognition(tmp_path / "raw")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cli_main(["shards", "--data", "FruitDataModule", "--data.root", str(root), "--data.num_workers", "0",
                  "--output_dir", str(tmp_path / "shards"), "--max_side", "24"])  # fmt: skip
    cli = fit(tmp_path, ["--data", "colorlab.data.StreamingDataModule", "--data.root", str(tmp_path / "shards")])
    assert cli.trainer.global_step == 2


def _net(name: str):
    cls = getattr(models, name)
    params = inspect.signature(cls).parameters
    return partial(cls, **{k: v for k, v in TINY_NET.items() if k in params})


@pytest.mark.parametrize("objective", [Regression, Classification], ids=["regression", "classification"])
@pytest.mark.parametrize("name", models.__all__)
def test_every_net_with_every_objective_trains_or_is_refused_clearly(name, objective):
    probe = _net(name)(2)
    supported = objective.kind in getattr(probe, "supports", ("regression", "classification"))
    if not supported:
        with pytest.raises(ValueError, match=f"supports .*not {objective.kind}"):
            LitColorizer(_net(name), objective())
        return
    model = LitColorizer(_net(name), objective())
    rgb = (torch.rand(2, 3, 40, 56) * 255).to(torch.uint8)  # not multiples of any net's stride: padded
    batch = model.on_after_batch_transfer({"rgb": rgb}, 0)
    loss = model.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss)
    optimised = {id(p) for group in model.configure_optimizers().param_groups for p in group["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert optimised == trainable  # a frozen feature extractor gets no optimizer state
    with torch.no_grad():
        lab_hat = model.colorize(color.normalize(batch["lab"])[0])
    assert lab_hat.shape == (2, 3, 40, 56) and torch.isfinite(lab_hat).all()
    assert torch.allclose(lab_hat[:, :1], batch["lab"][:, :1], atol=1e-4)  # the input's L passes through

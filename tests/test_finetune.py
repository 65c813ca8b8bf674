"""Fine-tuning (LitColorizer(init_weights=...), experiments/finetune_folder.yaml): a fit that starts from a zoo model's
or a checkpoint's weights with a fresh optimizer, on a folder of real photos."""

import csv
import functools
import json
import re
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from colorlab import zoo
from colorlab.cli import cli_main
from colorlab.models import UNet
from colorlab.module import LitColorizer

REPO = Path(__file__).resolve().parents[1]
FINETUNE = str(REPO / "experiments/finetune_folder.yaml")
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """48 tiles of 96 x 96 px cut from scikit-image's colour photos, as JPEG files in a folder."""
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        rgb = getattr(skdata, name)()
        for i in range(12):
            top, left = (i // 4) * (rgb.shape[0] - 96) // 2, (i % 4) * (rgb.shape[1] - 96) // 3
            Image.fromarray(np.ascontiguousarray(rgb[top : top + 96, left : left + 96])).save(folder / f"{name}{i}.jpg")
    return folder


def finetune_args(photos: Path, root: Path, name: str) -> list[str]:
    """experiments/finetune_folder.yaml on ``photos`` from zoo model ``name``, its net and objective as the zoo says
    (the shipped yaml names the Lite0 regression model's)."""
    found = zoo.entry(name)["model"]
    objective = found.get("objective") or {"class_path": "colorlab.objectives.Regression"}
    args = ["--config", FINETUNE, "--data.root", str(photos), "--model.init_weights", name,
            "--model.net", json.dumps(found["net"]), "--model.objective", json.dumps(objective),
            "--data.init_args.batch_size", "12", "--data.init_args.val_fraction", "0.25",
            "--data.init_args.num_workers", "0", "--trainer.default_root_dir", str(root), *QUIET]  # fmt: skip
    if not found["net"]["class_path"].endswith("PretrainedUNet"):  # no encoder part to freeze or slow down
        args += ["--model.encoder_lr", "1.0", "--model.freeze_encoder_epochs", "0"]
    return args


def val_losses(run: Path) -> list[float]:
    with open(run / "metrics.csv") as f:
        return [float(r["val/loss"]) for r in csv.DictReader(f) if r.get("val/loss")]


@pytest.mark.slow
def test_fine_tuning_a_zoo_model_starts_at_its_validation_loss_and_goes_down(photos, tmp_path):
    name = "lite0-regression" if "lite0-regression" in zoo.names() else zoo.default_name()
    args = finetune_args(photos, tmp_path, name)
    start = float(cli_main(["validate", *args]).trainer.callback_metrics["val/loss"])
    fresh = float(cli_main(["validate", *args, "--model.init_weights", "null"]).trainer.callback_metrics["val/loss"])
    # the zoo model itself, loaded on its own, on the same validation images
    cli = cli_main(["fit", *args, "--trainer.max_epochs", "4", "--trainer.num_sanity_val_steps", "0"])
    reference = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    loaded = LitColorizer.load_from_checkpoint(zoo.checkpoint_file(name))
    zoo_loss = float(reference.validate(loaded, datamodule=cli.datamodule, verbose=False)[0]["val/loss"])
    assert start == pytest.approx(zoo_loss, rel=1e-5)
    assert abs(start - fresh) > 0.02 * fresh  # not a fresh net's
    losses = val_losses(Path(cli.trainer.log_dir))
    # goes down: on 36 tiles the later epochs may rise again, which is why a fit keeps its best checkpoint
    assert len(losses) == 4 and min(losses[1:]) < losses[0] < start * 1.05 and min(losses) < start
    # a fresh optimizer and schedule: step count from zero, learning rate from the yaml's
    assert cli.trainer.global_step == 4 * len(cli.datamodule.train_dataloader())
    assert cli.trainer.optimizers[0].param_groups[0]["initial_lr"] == pytest.approx(2e-4)
    # the fine-tuned checkpoint keeps its own weights: init_weights is not applied over them
    tuned = LitColorizer.load_from_checkpoint(Path(cli.trainer.log_dir) / "checkpoints/last.ckpt", map_location="cpu")
    again = float(reference.validate(tuned, datamodule=cli.datamodule, verbose=False)[0]["val/loss"])
    assert again == pytest.approx(losses[-1], rel=1e-4)


def test_weights_that_do_not_fit_the_net_are_refused_naming_the_first_mismatch(tiny_runs, tmp_path):
    ckpt = tiny_runs[1] / "checkpoints/last.ckpt"  # demo UNet of width 4, regression
    model = LitColorizer(functools.partial(UNet, width=8), init_weights=str(ckpt))
    trained = torch.load(ckpt, weights_only=True)["state_dict"]
    first = next(k for k, v in model.net.state_dict().items() if trained[f"net.{k}"].shape != v.shape)
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    with pytest.raises(ValueError, match=rf"{re.escape(str(ckpt))} do not fit the configured UNet: {first} is "
                                         rf"\({trained['net.' + first].shape[0]}, .* in the net"):  # fmt: skip
        model.setup("fit")
    assert all(torch.equal(v, before[k]) for k, v in model.net.state_dict().items())  # nothing copied
    with pytest.raises(ValueError, match=r"zoo model .* do not fit the configured UNet: \S+ (is \(|is missing)"):
        cli_main(["fit", "--config", str(REPO / "experiments/demo.yaml"), "--model.init_weights", zoo.default_name(),
                  "--trainer.fast_dev_run", "true", "--trainer.default_root_dir", str(tmp_path), *QUIET])  # fmt: skip
    with pytest.raises(FileNotFoundError, match="neither a zoo model"):
        LitColorizer(functools.partial(UNet, width=4), init_weights=str(tmp_path / "none.ckpt")).setup("fit")


def test_init_weights_from_a_checkpoint_copy_its_net_exactly(tiny_runs):
    ckpt = tiny_runs[1] / "checkpoints/last.ckpt"
    model = LitColorizer(functools.partial(UNet, width=4, out_stride=2), init_weights=str(ckpt))
    model.setup("fit")
    trained = torch.load(ckpt, weights_only=True)["state_dict"]
    assert all(torch.equal(v, trained[f"net.{k}"]) for k, v in model.net.state_dict().items())

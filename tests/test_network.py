"""colorlab.network: the Lightning-free model that inference runs, against LitColorizer built from the same config."""

import functools
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from PIL import Image
from skimage import data

from colorlab import color, network
from colorlab.models import UNet
from colorlab.module import LitColorizer, from_config
from colorlab.objectives import Classification

ROOT = Path(__file__).resolve().parents[1]

CONFIG = {
    "net": {"class_path": "colorlab.models.PretrainedUNet",
            "init_args": {"pretrained": False, "decoder_channels": [16, 16, 16], "input_scale": 1}},
    "objective": {"class_path": "colorlab.objectives.Classification",
                  "init_args": {"priors": torch.linspace(1, 2, 261).div(torch.linspace(1, 2, 261).sum()).tolist(),
                                "lam": 1.0, "prior_shift": 0.7, "decoding": "annealed_mean", "temperature": 0.5}},
}  # fmt: skip


def test_build_gives_litcolorizers_predictions_from_the_same_weights():
    torch.manual_seed(0)
    lit = from_config(CONFIG).eval()
    for parameter in lit.net.parameters():  # random everywhere (the head starts at zero)
        torch.nn.init.normal_(parameter, std=0.1)
    model = network.build(CONFIG, "test config", (32, 32))
    model.load_state_dict(lit.state_dict())
    model.eval()
    assert model.train_resolution == (32, 32) and model.objective.prior_shift == 0.7
    x_l = torch.rand(2, 1, 40, 56)  # not a multiple of the net's 32: padded and cropped alike
    with torch.no_grad():
        ab = model(x_l)
        torch.testing.assert_close(model.colorize(x_l), lit.colorize(x_l), rtol=0, atol=1e-5)
    assert ab.shape == (2, 2, 40, 56) and ab.abs().max() > 0.01
    torch.testing.assert_close(ab * color.AB_SCALE, lit.colorize(x_l)[:, 1:], rtol=0, atol=1e-4)


def test_build_defaults_to_regression_and_refuses_untrusted_classes():
    model = network.build({"net": {"class_path": "colorlab.models.UNet", "init_args": {"width": 4}}}, "a config")
    assert model.objective.kind == "regression" and model.train_resolution is None
    assert model(torch.rand(1, 1, 16, 24)).shape == (1, 2, 16, 24)
    with pytest.raises(ValueError, match="refused before importing"):
        network.build({"net": {"class_path": "subprocess.Popen"}}, "a config")
    with pytest.raises(ValueError, match="names no net"):
        network.build({}, "a config")


def save(model: LitColorizer, path: Path) -> Path:
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_steps=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    return path


def test_from_checkpoint_is_what_litcolorizer_loads(tmp_path):
    torch.manual_seed(0)
    model = LitColorizer(functools.partial(UNet, width=4, depth=1), Classification(decoding="mean", prior_shift=0.0))
    for parameter in model.net.parameters():
        torch.nn.init.normal_(parameter, std=0.2)
    model.train_resolution = (24, 40)
    path = save(model, tmp_path / "m.ckpt")
    loaded = network.from_checkpoint(path)
    reference = LitColorizer.load_from_checkpoint(path).eval()
    assert loaded.train_resolution == (24, 40) and loaded.objective.decoding == "mean" and not loaded.training
    x_l = torch.rand(2, 1, 24, 40)
    with torch.no_grad():
        # (LitColorizer runs the net channels-last: float32 sums in another order)
        torch.testing.assert_close(loaded.colorize(x_l), reference.colorize(x_l), rtol=0, atol=1e-4)
    # a checkpoint trained with other ab bins is refused by both loaders
    saved = torch.load(path, weights_only=True)
    saved["colorlab"]["ab_bins"] = saved["colorlab"]["ab_bins"][1:]
    torch.save(saved, tmp_path / "other_bins.ckpt")
    for load in (network.from_checkpoint, LitColorizer.load_from_checkpoint):
        with pytest.raises(ValueError, match="260 ab bins that differ from this install's 261"):
            load(tmp_path / "other_bins.ckpt")
    # and one missing a tensor of its net is refused, naming it
    del saved["state_dict"]["net.head.weight"]
    saved["colorlab"]["ab_bins"] = color.ab_bins()
    torch.save(saved, tmp_path / "incomplete.ckpt")
    with pytest.raises(RuntimeError, match="net.head.weight"):
        network.from_checkpoint(tmp_path / "incomplete.ckpt")


def test_colorize_with_a_checkpoint_imports_no_lightning(tmp_path):
    model = LitColorizer(functools.partial(UNet, width=4, depth=1))
    model.train_resolution = (32, 32)
    save(model, tmp_path / "m.ckpt")
    Image.fromarray(data.coffee()).save(tmp_path / "coffee.png")
    code = ("import sys, runpy; sys.argv = ['colorlab', 'colorize', '--ckpt_path', 'm.ckpt', '--input', 'coffee.png']; "
            "runpy.run_module('colorlab', run_name='__main__'); print('lightning' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, env=env)
    assert result.stdout.strip().splitlines()[-1] == "False"
    assert Image.open(tmp_path / "colorized" / "coffee.png").size == (600, 400)

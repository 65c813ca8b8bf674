"""``export``: the exported network (onnxruntime for ONNX, torch.jit for TorchScript) gives the ab that
LitColorizer.colorize gives, on a real photo, within the stated tolerance; the contract file describes it."""

import functools
import json
from pathlib import Path

import lightning as L
import numpy as np
import onnxruntime
import pytest
import torch
from skimage import color as skcolor
from skimage import data as skdata

from colorlab import color, export
from colorlab.cli import cli_main
from colorlab.models import PretrainedUNet, UNet, ZhangCNN
from colorlab.module import LitColorizer
from colorlab.objectives import Classification, Regression

MODELS = {
    # full-resolution classifier, annealed-mean decoding inside the graph
    "unet_cls": lambda: random_head(LitColorizer(functools.partial(UNet, width=4), Classification())),
    # stride-4 regressor: the graph upsamples ab x4 itself
    "zhang_reg": lambda: LitColorizer(functools.partial(ZhangCNN, width=4, blocks=5, depth=1), Regression()),
    # the zoo's architecture: EfficientNet-Lite0 encoder, input upscaled x2
    "lite0_reg": lambda: random_head(LitColorizer(functools.partial(
        PretrainedUNet, pretrained=False, decoder_channels=[8, 8, 8], input_scale=2), Regression())),
}


def random_head(model: LitColorizer) -> LitColorizer:
    """A net whose output layer is random, not zero as a fresh net's: it predicts more than a constant."""
    torch.nn.init.normal_(model.net.head.weight, std=3.0)
    return model


def checkpoint_of(name: str, tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = MODELS[name]()
    model.train_resolution = (48, 64)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_steps=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / f"{name}.ckpt")
    return tmp_path / f"{name}.ckpt"


def photo_x_l(height: int, width: int, batch: int = 1) -> torch.Tensor:
    """x_l of a real photo (scikit-image's coffee, cropped), L from scikit-image's own Lab conversion."""
    rgb = skdata.coffee()[100 : 100 + height * batch, 150 : 150 + width]
    l = torch.from_numpy(skcolor.rgb2lab(rgb)[..., 0]).float() / 100
    return l.reshape(batch, 1, height, width)


def reference_ab(ckpt: Path, x_l: torch.Tensor) -> np.ndarray:
    model = LitColorizer.load_from_checkpoint(ckpt).eval()
    with torch.no_grad():
        return (model.colorize(x_l)[:, 1:] / color.AB_SCALE).numpy()


def run(path: Path, file_format: str, x_l: torch.Tensor) -> np.ndarray:
    if file_format == "onnx":
        return onnxruntime.InferenceSession(str(path)).run(None, {"x_l": x_l.numpy()})[0]
    with torch.no_grad():
        return torch.jit.load(str(path))(x_l).numpy()


FORMATS = [pytest.param("onnx", marks=pytest.mark.slow), "torchscript"]  # an ONNX export takes ~10 s


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("name", list(MODELS))
def test_fixed_size_export_matches_pytorch_on_a_photo(tmp_path, name, file_format):
    ckpt = checkpoint_of(name, tmp_path)
    out = tmp_path / f"model.{file_format}"
    info = cli_main(["export", "--ckpt_path", str(ckpt), "--format", file_format, "--size", "40", "56",
                     "--output", str(out)])  # fmt: skip
    x_l = photo_x_l(40, 56)  # not a multiple of UNet's 16: the graph pads and crops itself
    got = run(out, file_format, x_l)
    assert got.shape == (1, 2, 40, 56)
    assert np.abs(got - reference_ab(ckpt, x_l)).max() <= export.TOLERANCE
    contract = json.loads(Path(f"{out}.json").read_text())
    assert contract["input"]["shape"] == [1, 1, 40, 56] and contract["output"]["name"] == "ab"
    assert contract["verified"]["max_abs_diff"] <= contract["verified"]["tolerance"] == export.TOLERANCE
    assert contract["objective"] == info["objective"] == ("classification" if "cls" in name else "regression")


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("name", ["unet_cls", "lite0_reg"])
def test_dynamic_export_takes_other_batch_sizes_and_sizes(tmp_path, name, file_format):
    ckpt = checkpoint_of(name, tmp_path)
    out = tmp_path / f"model.{file_format}"
    info = export.export(str(ckpt), file_format, str(out), dynamic=True)
    assert info["input"]["shape"] == ["batch", 1, "height", "width"] and "multiples of 16" in info["sizes"]
    for batch, height, width in ((1, 32, 80), (3, 48, 32)):  # neither the batch nor the size it was exported with
        x_l = photo_x_l(height, width, batch)
        expected = reference_ab(ckpt, x_l)
        assert expected.std(axis=(0, 2, 3)).min() > 1e-3  # not a constant prediction
        assert np.abs(run(out, file_format, x_l) - expected).max() <= export.TOLERANCE


def test_export_refuses_what_it_cannot_honour(tmp_path):
    ckpt = checkpoint_of("unet_cls", tmp_path)
    with pytest.raises(ValueError, match="not both"):
        export.export(str(ckpt), "onnx", dynamic=True, size=[32, 32])
    with pytest.raises(ValueError, match="format"):
        export.export(str(ckpt), "tflite")
    sampler = LitColorizer(functools.partial(UNet, width=4), Classification(decoding="sample"))
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_steps=0)
    trainer.strategy.connect(sampler)
    trainer.save_checkpoint(tmp_path / "draws.ckpt")
    with pytest.raises(ValueError, match="'sample' draws random numbers"):
        export.export(str(tmp_path / "draws.ckpt"), "torchscript")

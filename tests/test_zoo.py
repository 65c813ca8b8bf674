"""The model zoo (colorlab.zoo): the shipped models, --model NAME wherever --ckpt_path is taken, colorize with no
model, sha256 refusal, and the maintainers' add / remove (float16 storage, offline rebuild, better rows only)."""

import copy
import json
import re
import shutil
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from skimage import color as skcolor
from skimage import data as skdata

from colorlab import color, zoo
from colorlab.cli import cli_main
from colorlab.module import from_config
from colorlab.zoo import maintain

REPO = Path(__file__).resolve().parents[1]
TINY = ["--data.init_args.train_size", "16", "--data.init_args.val_size", "8", "--data.init_args.test_size", "8",
        "--data.init_args.batch_size", "8"]  # fmt: skip
ROW = {"name": "run", "ab_l1": 0.08, "ab_l2": 0.015, "top1": 0.25, "colorfulness_ratio": 0.3,
       "evaluated_on": "ScenesDataModule/val"}  # fmt: skip


def cat(tmp_path: Path, step: int = 1) -> Path:
    """scikit-image's chelsea (300 x 451, an odd width) as a JPEG file."""
    path = tmp_path / "cat.jpg"
    Image.fromarray(np.ascontiguousarray(skdata.chelsea()[::step, ::step])).save(path, quality=95)
    return path


def l_and_ab(path: Path) -> tuple[np.ndarray, np.ndarray]:
    lab = skcolor.rgb2lab(np.asarray(Image.open(path).convert("RGB")))
    return lab[..., 0], lab[..., 1:]


# ------------------------------------------------------------------------------ what ships
def test_shipped_models_match_their_manifest_and_the_limits():
    shipped = zoo.manifest()
    assert 1 <= len(shipped["models"]) <= zoo.MAX_MODELS
    assert shipped["default"] in shipped["models"]
    listed = re.search(r'^"colorlab.zoo" = \[(.*?)\]', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    globs = json.loads(f"[{listed.group(1)}]")  # [tool.setuptools.package-data]
    files = {p.name for p in zoo.ZOO_DIR.iterdir() if p.suffix in (".safetensors", ".json")}
    assert files == {zoo.MANIFEST} | {e["file"] for e in shipped["models"].values()}  # nothing stray, nothing missing
    for name, found in shipped["models"].items():
        path = zoo.verified_file(name)
        assert path.stat().st_size == found["size_bytes"] <= zoo.MAX_BYTES
        assert any(fnmatch(path.name, g) for g in globs) and any(fnmatch(zoo.MANIFEST, g) for g in globs)
        assert found["fp16_check"]["max_abs_diff"] <= zoo.FP16_TOLERANCE
        assert found["results"]["ab_l1"] > 0 and found["training"]["command"]
        assert found["model"]["net"]["init_args"].get("pretrained", False) is False  # rebuilt offline


@pytest.mark.slow
def test_a_built_wheel_carries_the_zoo(tmp_path):
    """A non-editable install has the models: they are in the wheel that pip builds and installs."""
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside the sources
    shutil.copytree(REPO / "colorlab", source / "colorlab", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True)  # fmt: skip
    (wheel,) = tmp_path.glob("colorlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"colorlab/zoo/{e['file']}" for e in zoo.manifest()["models"].values()}
    assert {"colorlab/zoo/manifest.json", "colorlab/zoo/__init__.py"} | shipped <= names


def test_models_command_lists_name_scores_and_size(capsys):
    cli_main(["models"])
    out = capsys.readouterr().out
    for name, found in zoo.manifest()["models"].items():
        line = next(line for line in out.splitlines() if line.startswith(name))
        assert f"{found['results']['ab_l1']:.4g}" in line and "MB" in line
    assert f"{zoo.default_name()}*" in out


# ------------------------------------------------------------------------------ colorize with no model
def test_colorize_with_no_model_uses_the_default_keeps_l_and_adds_colour(tmp_path, capsys):
    photo = cat(tmp_path)
    summary = cli_main(["colorize", "--input", str(photo), "--output", str(tmp_path / "out"), "--device", "cpu"])
    assert summary.written == [tmp_path / "out/cat.jpg"]
    l_in, _ = l_and_ab(photo)
    l_out, ab_out = l_and_ab(tmp_path / "out/cat.jpg")
    assert l_out.shape == l_in.shape == (300, 451)
    assert np.abs(l_out - l_in).mean() < 0.5  # JPEG re-encoding aside, the input's own L
    assert np.abs(ab_out).mean() > 1.0  # coloured, not grey (Lab units)


def test_model_and_ckpt_path_are_exclusive_and_unknown_names_are_listed(tmp_path):
    photo = cat(tmp_path, step=4)
    with pytest.raises(ValueError, match="no zoo model 'nope'; the zoo has"):
        cli_main(["colorize", "--input", str(photo), "--model", "nope"])
    with pytest.raises(ValueError, match="not both"):
        cli_main(["colorize", "--input", str(photo), "--model", zoo.default_name(), "--ckpt_path", str(photo)])


def test_a_changed_weights_file_is_refused_naming_it(tmp_path, monkeypatch):
    copied = shutil.copytree(zoo.ZOO_DIR, tmp_path / "zoo", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    name = zoo.default_name()
    weights = copied / zoo.entry(name)["file"]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of the last weight
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(zoo.store, "ZOO_DIR", copied)
    with pytest.raises(ValueError, match=re.escape(str(weights)) + ": sha256 .* does not match"):
        cli_main(["colorize", "--input", str(cat(tmp_path, step=4)), "--output", str(tmp_path / "out")])
    with pytest.raises(ValueError, match="sha256"):
        cli_main(["fit", "--config", str(REPO / "experiments/demo.yaml"), "--model.net", json.dumps(zoo.entry(name)
                  ["model"]["net"]), "--model.init_weights", name, "--trainer.fast_dev_run", "true", *TINY])  # fmt: skip
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ --model elsewhere
def test_export_evaluate_and_predict_take_a_zoo_model(tmp_path):
    name = zoo.default_name()
    info = cli_main(["export", "--model", name, "--format", "torchscript", "--output", str(tmp_path / "m.pt")])
    assert info["verified"]["max_abs_diff"] <= info["verified"]["tolerance"] and (tmp_path / "m.pt").is_file()
    done = cli_main(["evaluate", "--model", name, "--config", str(REPO / "experiments/demo.yaml"), *TINY,
                     "--output", str(tmp_path / "eval"), "--baseline_batches", "1"])  # fmt: skip
    scenes = done["results"]["demo/test"]
    assert name in scenes and scenes[name]["metrics"]["ab_l1"] != scenes["baseline_grey"]["metrics"]["ab_l1"]
    cli = cli_main(["predict", "--config", str(REPO / "experiments/demo.yaml"), "--model", name, *TINY,
                    "--trainer.default_root_dir", str(tmp_path / "predict"), "--trainer.logger", "false"])  # fmt: skip
    assert type(cli.model.net).__name__ == zoo.entry(name)["model"]["net"]["class_path"].rsplit(".", 1)[-1]
    assert len(list((tmp_path / "predict").rglob("*.png"))) == 8  # the scenes' predict split is their val split


# ------------------------------------------------------------------------------ maintainers: add / remove
@pytest.fixture
def empty_zoo(tmp_path):
    folder = tmp_path / "zoo"
    folder.mkdir()
    return folder


def test_add_stores_float16_weights_that_predict_like_the_checkpoint(tiny_runs, empty_zoo):
    ckpt = tiny_runs[1] / "checkpoints/last.ckpt"  # the MSE regression run
    found = maintain.add(ckpt, "tiny", ROW, data="scenes", root=empty_zoo)
    assert zoo.manifest(empty_zoo)["default"] == "tiny"
    assert found["sha256"] == zoo.sha256(empty_zoo / "tiny.safetensors")
    assert found["training"]["command"] and found["training"]["config"]["model"]["net"]["init_args"]["width"] == 4
    stored = load_file(str(empty_zoo / "tiny.safetensors"))
    assert {v.dtype for k, v in stored.items() if v.ndim >= 2} == {torch.float16}
    assert all(v.dtype != torch.float16 for v in stored.values() if v.ndim < 2)  # biases, BatchNorm in float32
    from colorlab.module import LitColorizer

    reference = LitColorizer.load_from_checkpoint(ckpt, map_location="cpu").eval()
    model = zoo.load("tiny", empty_zoo)
    assert model.train_resolution == tuple(reference.train_resolution)
    x_l = torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        change = (model.colorize(x_l) - reference.colorize(x_l)).abs().max() / color.AB_SCALE
    assert 0 < change <= zoo.FP16_TOLERANCE and found["fp16_check"]["max_abs_diff"] <= zoo.FP16_TOLERANCE


def test_a_model_is_replaced_only_by_a_better_row_and_the_zoo_holds_two(tiny_runs, empty_zoo):
    ckpt = tiny_runs[1] / "checkpoints/last.ckpt"
    maintain.add(ckpt, "a", ROW, root=empty_zoo)
    with pytest.raises(ValueError, match="replaced only by a better results row"):
        maintain.add(ckpt, "a", {**ROW, "ab_l1": 0.07, "ab_l2": 0.02}, root=empty_zoo)  # better L1, worse L2
    with pytest.raises(ValueError, match="different images"):
        maintain.add(ckpt, "a", {**ROW, "ab_l1": 0.07, "evaluated_on": "elsewhere"}, root=empty_zoo)
    assert zoo.entry("a", empty_zoo)["results"] == ROW
    maintain.add(ckpt, "a", {**ROW, "ab_l1": 0.07}, root=empty_zoo)
    assert zoo.entry("a", empty_zoo)["results"]["ab_l1"] == 0.07
    maintain.add(tiny_runs[0] / "checkpoints/last.ckpt", "b", ROW, default=True, root=empty_zoo)
    assert zoo.default_name(empty_zoo) == "b" and zoo.load("b", empty_zoo).objective.kind == "classification"
    with pytest.raises(ValueError, match="holds 2 models .* its limit"):
        maintain.add(ckpt, "c", ROW, root=empty_zoo)
    maintain.remove("b", root=empty_zoo)
    assert zoo.names(empty_zoo) == ["a"] and zoo.default_name(empty_zoo) == "a"
    assert sorted(p.name for p in empty_zoo.iterdir()) == ["a.safetensors", "manifest.json"]


def test_a_pretrained_net_is_stored_to_rebuild_without_its_imagenet_weights(tmp_path, empty_zoo):
    """The Lite0 U-Net's config asks for ImageNet weights; the zoo entry must rebuild it with none (no package,
    no hub: here the checkpoint even names a weights file that does not exist)."""
    import lightning as L

    net = {"class_path": "colorlab.models.PretrainedUNet",
           "init_args": {"pretrained": False, "decoder_channels": [16, 16, 16], "frozen_to": 8}}  # fmt: skip
    model = from_config({"net": net})
    model.train_resolution = (32, 32)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_steps=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "lite0.ckpt")
    saved = torch.load(tmp_path / "lite0.ckpt", weights_only=True)
    saved["hyper_parameters"]["net"]["init_args"].update(pretrained=True, weights=str(tmp_path / "imagenet.pth"))
    torch.save(saved, tmp_path / "lite0.ckpt")
    found = maintain.add(tmp_path / "lite0.ckpt", "lite0", ROW, root=empty_zoo)
    assert found["model"]["net"]["init_args"]["pretrained"] is False and found["model"]["net"]["init_args"]["weights"] is None
    rebuilt = zoo.load("lite0", empty_zoo)
    expected = model.net.state_dict()
    for key, value in rebuilt.net.state_dict().items():  # the zoo's weights, not a fresh random init
        assert torch.allclose(value.float(), expected[key].float(), rtol=1e-3, atol=1e-4), key


def test_rows_are_read_from_a_report_rows_file(tmp_path):
    rows = json.loads((REPO / "docs/tinyimagenet_report/rows.json").read_text())
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    row = maintain.read_row(tmp_path / "rows.json", rows[0]["name"])
    assert row == rows[0]
    with pytest.raises(ValueError, match="pick one with --row"):
        maintain.read_row(tmp_path / "rows.json")
    (tmp_path / "bad.json").write_text(json.dumps({"name": "x", "ab_l1": 0.1}))
    with pytest.raises(ValueError, match="ab_l1 and ab_l2"):
        maintain.read_row(tmp_path / "bad.json")


def test_improves_needs_no_worse_anywhere_and_better_somewhere():
    assert maintain.improves({**ROW, "top1": 0.3}, ROW)
    assert not maintain.improves(ROW, ROW)
    assert not maintain.improves({**ROW, "ab_l1": 0.07, "top1": 0.2}, ROW)
    old = copy.deepcopy(ROW)
    del old["top1"]
    assert maintain.improves({**ROW, "ab_l2": 0.01, "top1": 0.0}, old)  # top1 not in both: not compared

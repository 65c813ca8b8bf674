"""Evaluation helpers against outside references (skimage Lab, sklearn nearest bins, numpy)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_DATA
from skimage.color import rgb2lab
from sklearn.metrics import mean_absolute_error
from sklearn.neighbors import NearestNeighbors

from colorlab import color
from colorlab.cli import cli_main
from colorlab.data.base import ColorDataModule
from colorlab.data.decoding import batch_chroma_spread, chroma_spread
from colorlab.errors import ColorlabError
from colorlab.evaluate import ab_statistics, baseline_constants, evaluate, evaluate_datasets, lab_batches


@pytest.fixture
def rgb_loader():
    """Three uint8 batches of different sizes, as a DataModule yields them."""
    g = torch.Generator().manual_seed(0)
    return [{"rgb": torch.randint(0, 256, (n, 3, 12, 12), dtype=torch.uint8, generator=g)} for n in (2, 3, 1)]


def _skimage_lab(loader) -> np.ndarray:
    return rgb2lab(np.concatenate([b["rgb"].numpy() for b in loader]).transpose(0, 2, 3, 1) / 255.0)


def test_mean_ab_is_the_pixel_mean_of_skimage_lab(rgb_loader):
    expected = _skimage_lab(rgb_loader)[..., 1:].reshape(-1, 2).mean(axis=0)
    assert np.abs(expected).min() > 1  # a non-trivial reference
    np.testing.assert_allclose(ab_statistics(rgb_loader)["mean_ab"].numpy(), expected, atol=0.02)
    first = _skimage_lab(rgb_loader[:1])[..., 1:].reshape(-1, 2).mean(axis=0)
    np.testing.assert_allclose(ab_statistics(rgb_loader, limit=1)["mean_ab"].numpy(), first, atol=0.02)


def test_bin_counts_and_the_mode_bin_against_sklearn(rgb_loader):
    stats = ab_statistics(rgb_loader)
    ab = _skimage_lab(rgb_loader)[..., 1:].reshape(-1, 2)
    nearest = NearestNeighbors(n_neighbors=1).fit(color.ab_bins().numpy()).kneighbors(ab, return_distance=False)[:, 0]
    expected = np.bincount(nearest, minlength=color.ab_bins().shape[0])
    assert stats["images"] == 6 and stats["counts"].sum() == 6 * 144
    assert np.abs(stats["counts"].numpy() - expected).sum() <= 4  # kornia vs skimage Lab at cell borders
    constants = baseline_constants(stats)
    assert constants["baseline_grey"].tolist() == [0.0, 0.0]
    assert torch.equal(constants["baseline_mode_bin"], color.ab_bins()[int(np.argmax(stats["counts"].numpy()))])


def test_baselines_are_scored_by_the_metric_code_on_the_same_images(rgb_loader):
    stats = ab_statistics(rgb_loader)
    rows = evaluate({}, rgb_loader, baseline_constants(stats))
    ab = _skimage_lab(rgb_loader)[..., 1:].reshape(-1, 2)
    for name, constant in baseline_constants(stats).items():
        expected = mean_absolute_error(ab, np.broadcast_to(constant.numpy(), ab.shape))
        assert rows[name]["metrics"]["ab_l1"] == pytest.approx(expected, abs=0.02), name
        assert len(rows[name]["rmse_per_image"]) == 6 and len(rows[name]["pixel_error_cdf"]) == 151


# ------------------------------------------------------------------------------ the command, end to end
ROOT = Path(__file__).resolve().parents[1]
DATA = TINY_DATA


def _logged(run: Path) -> dict[str, float]:
    """The last validation row of a run's metrics.csv (Lightning's CSVLogger)."""
    with (run / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/ab_l1")]
    return {k[4:]: float(v) for k, v in rows[-1].items() if k.startswith("val/") and v}


def test_min_chroma_leaves_out_the_grayscale_images_and_counts_them(rgb_loader):
    """Grey images (R = G = B) and a grey photo stored as colour (spread 0.5) are left out of the baselines' statistics
    and of every row; the rows then equal an evaluation of the colour images alone."""
    g = torch.Generator().manual_seed(1)
    grey = torch.randint(0, 255, (2, 1, 12, 12), dtype=torch.uint8, generator=g).expand(2, 3, 12, 12).clone()
    near = grey[:1].clone()
    near[0, 0, ::2] += 1  # spread 1 on half the rows: chroma_spread 0.5
    mixed = [{"rgb": torch.cat([rgb_loader[0]["rgb"], grey])}, {"rgb": near}, *rgb_loader[1:]]
    spreads = [chroma_spread(im.permute(1, 2, 0).numpy()) for b in mixed for im in b["rgb"]]
    assert spreads[2:5] == [0.0, 0.0, 0.5] and min(spreads[:2] + spreads[5:]) > 50  # numpy reference
    np.testing.assert_allclose(batch_chroma_spread(mixed[0]["rgb"]).numpy(), spreads[:4], rtol=1e-6)
    kept = ab_statistics(mixed, min_chroma=1.0)
    assert kept["images"] == 6
    np.testing.assert_allclose(kept["mean_ab"].numpy(), ab_statistics(rgb_loader)["mean_ab"].numpy(), rtol=1e-6)
    assert ab_statistics(mixed, min_chroma=0.4)["images"] == 7  # the threshold is used, not a fixed one
    assert ab_statistics(mixed)["images"] == 9
    tally: dict = {}
    constants = baseline_constants(kept)
    rows = evaluate({}, mixed, constants, min_chroma=1.0, tally=tally)
    assert tally == {"images": 6, "excluded": 3}
    alone = evaluate({}, rgb_loader, constants)
    for name in constants:
        assert rows[name]["metrics"] == pytest.approx(alone[name]["metrics"], rel=1e-6, nan_ok=True), name
    with pytest.raises(ValueError, match="min_chroma"):
        next(lab_batches(mixed, "cpu", min_chroma=300))


def test_predict_split_scores_every_image_of_a_folder(tmp_path):
    """A folder of photos for a model trained elsewhere: split "predict" evaluates all of them (val only a tenth);
    the grey one is left out by min_chroma and counted."""
    from PIL import Image

    from colorlab.data import FolderDataModule
    from colorlab.evaluate import evaluate_datasets

    rng = np.random.default_rng(0)
    for i in range(9):
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / f"photo{i}.png")
    Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).convert("RGB").save(tmp_path / "grey.png")
    module = lambda: FolderDataModule(str(tmp_path), image_size=16, batch_size=4, num_workers=0)
    done = evaluate_datasets([], [("all", module(), "predict"), ("val", module(), "val")], tmp_path / "out",
                             min_chroma=1.0)  # fmt: skip
    meta = done["meta"]["datasets"]
    assert (meta["all"]["images"], meta["all"]["excluded_grayscale"]) == (9, 1)
    assert meta["val"]["images"] + meta["val"]["excluded_grayscale"] == 1
    assert "9 images (1 near-grayscale" in meta["all"]["note"]
    with pytest.raises(ValueError, match="split"):
        evaluate_datasets([], [("x", module(), "train")], tmp_path / "out")


@pytest.mark.slow
def test_evaluate_command_writes_tables_equal_to_the_logged_metrics(tiny_runs, tmp_path, capsys):
    runs = tiny_runs
    ckpts = [str(run / "checkpoints/last.ckpt") for run in runs]
    out = tmp_path / "eval"
    done = cli_main(["evaluate", "--ckpt_path", *ckpts, "--output", str(out), "--device", "cpu", "--min_chroma", "1",
                     "--config", str(ROOT / "experiments/demo.yaml"), *DATA, "--split", "val",
                     "--config", str(ROOT / "experiments/demo.yaml"), *DATA, "--name", "scenes test"])  # fmt: skip
    names = ["cls/version_0/last", "reg/version_0/last"]
    assert list(done["meta"]["checkpoints"]) == names
    saved = json.loads((out / "results.json").read_text())
    assert list(saved["results"]) == ["demo/val", "scenes test"]
    assert saved["meta"]["datasets"]["scenes test"]["split"] == "test"
    for dataset in saved["results"].values():
        assert list(dataset) == [*names, "baseline_grey", "baseline_mean_ab", "baseline_mode_bin"]
    # the val figures are those training logged for the same checkpoint on the same 8 images
    for name, run in zip(names, runs):
        logged = _logged(run)
        got = saved["results"]["demo/val"][name]["metrics"]
        for key in ("ab_l1", "ab_mse", "psnr", "ssim", "bin_acc", "auc", "pa", "colorfulness_ratio", "rmse"):
            assert got[key] == pytest.approx(logged[key], rel=1e-4, abs=1e-6), (name, key)
    cls = saved["results"]["demo/val"][names[0]]["metrics"]
    assert cls["top1"] == pytest.approx(_logged(runs[0])["top1"], rel=1e-4) and "accuracy" in cls
    assert saved["meta"]["datasets"]["demo/val"]["excluded_grayscale"] == 0  # the scenes all have colour
    assert "accuracy" not in saved["results"]["demo/val"][names[1]]["metrics"]
    # CSV: one row per (dataset, predictor), the same values as the JSON
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 5
    for row in rows:
        assert float(row["ab_l1"]) == saved["results"][row["dataset"]][row["predictor"]]["metrics"]["ab_l1"]
    # Markdown: every predictor's row, with the JSON's ab L1 at 4 significant digits
    md = (out / "results.md").read_text()
    for dataset, rows_ in saved["results"].items():
        section = md.split(f"### {dataset}")[1].split("###")[0]
        for name, result in rows_.items():
            line = next(l for l in section.splitlines() if l.startswith(f"| {name} |"))
            assert line.split(" | ")[1] == f"{result['metrics']['ab_l1']:.4g}"
    assert "baseline_mode_bin" in capsys.readouterr().out
    # --decoding replaces the classifier's saved decoding (annealed mean) and leaves the regression model alone
    mode = cli_main(["evaluate", "--ckpt_path", *ckpts, "--output", str(tmp_path / "mode"), "--device", "cpu",
                     "--decoding", "mode", "--config", str(ROOT / "experiments/demo.yaml"), *DATA, "--split", "val"])
    assert mode["meta"]["decoding"] == {names[0]: {"decoding": "mode", "temperature": pytest.approx(0.38), "prior_shift": 0.0}}
    assert saved["meta"]["decoding"][names[0]]["decoding"] == "annealed_mean"
    got = {n: mode["results"]["demo/val"][n]["metrics"] for n in names}
    assert got[names[1]]["ab_l1"] == pytest.approx(saved["results"]["demo/val"][names[1]]["metrics"]["ab_l1"])
    assert got[names[0]]["ab_l1"] != pytest.approx(cls["ab_l1"], rel=1e-3)
    assert got[names[0]]["top1"] == pytest.approx(cls["top1"])  # the argmax does not depend on the decoding


@pytest.mark.parametrize(
    "args,message",
    [
        (["--config", "experiments/demo.yaml"], "--ckpt_path"),
        (["--ckpt_path", "no/such.ckpt"], "--config"),
        (["--ckpt_path", "no/such.ckpt", "--config", "experiments/demo.yaml"], "no/such.ckpt"),
        (["--ckpt_path", "a.ckpt", "--device", "tpu", "--config", "experiments/demo.yaml"], "tpu"),
        (["--ckpt_path", "a.ckpt", "--max_batches", "many", "--config", "experiments/demo.yaml"], "many"),
        (["--ckpt_path", "a.ckpt", "--min_chroma", "grey", "--config", "experiments/demo.yaml"], "grey"),
        (["--ckpt_path", "a.ckpt", "--temperature", "hot", "--config", "experiments/demo.yaml"], "hot"),
        (["stray", "--config", "experiments/demo.yaml"], "stray"),
    ],
)
def test_evaluate_mistakes_name_what_was_received(args, message, monkeypatch, capsys):
    """A user error (ColorlabError, which ``python -m colorlab`` prints as one line), or the parser's own
    message and exit status 2 for a value of the wrong type."""
    monkeypatch.chdir(ROOT)
    try:
        cli_main(["evaluate", *args])
    except ColorlabError as err:
        assert message in str(err)
    except SystemExit as exit_:
        assert exit_.code == 2 and message in capsys.readouterr().err
    else:
        pytest.fail("no error")


def test_written_paths_are_relative_to_the_output_or_the_name(tmp_path):
    from colorlab.evaluate import shown_path

    ckpt = tmp_path / "runs/a/checkpoints/last.ckpt"
    assert shown_path(ckpt, tmp_path / "report", "a/last") == "../runs/a/checkpoints/last.ckpt"
    assert shown_path(Path("/elsewhere/last.ckpt"), tmp_path / "report", "a/last") == "a/last"  # only / shared


class _Solid(torch.utils.data.Dataset):
    """``n`` 16x16 images of one sRGB colour."""

    def __init__(self, rgb: tuple[int, int, int], n: int) -> None:
        self.image = torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1).expand(3, 16, 16).clone()
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        return {"rgb": self.image, "index": index}


class _RedTrainBlueEval(ColorDataModule):
    def setup(self, stage: str | None = None) -> None:
        self.train_set = _Solid((200, 30, 30), 12)
        self.val_set = self.test_set = _Solid((30, 30, 200), 4)


@pytest.mark.parametrize("split", ["val", "test"])
def test_baselines_come_from_the_training_split(split, tmp_path):
    """Training images all red, evaluated ones all blue: the mean-ab and mode-bin baselines are red, estimated
    from the 12 training images, so they score far off on the blue split (an estimate from the evaluated split
    would score 0 error)."""
    dm = lambda: _RedTrainBlueEval(batch_size=4, num_workers=0)
    done = evaluate_datasets([], [("x", dm(), split)], tmp_path / "out")
    meta = done["meta"]["datasets"]["x"]
    red = color.rgb_to_lab(torch.tensor([200, 30, 30]).view(1, 3, 1, 1) / 255.0)[0, 1:, 0, 0]
    assert meta["baseline_images"] == 12 and meta["images"] == 4
    assert meta["baselines"]["baseline_mean_ab"] == pytest.approx(red.tolist(), abs=1e-3)
    mode = torch.tensor(meta["baselines"]["baseline_mode_bin"])
    assert (mode - red).abs().max() <= 5  # the centre of red's 10-unit bin
    assert done["results"]["x"]["baseline_mean_ab"]["metrics"]["ab_l1"] > 50

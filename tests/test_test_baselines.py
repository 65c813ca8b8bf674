"""`python -m colorlab test` logs the three baselines beside the model (TestBaselines), checked against skimage."""

from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_DATA
from skimage.color import rgb2lab

from colorlab import color
from colorlab.cli import cli_main
from colorlab.data import ScenesDataModule

ROOT = Path(__file__).resolve().parents[1]


def _lab(dataset) -> np.ndarray:
    rgb = np.stack([dataset[i]["rgb"].numpy() for i in range(len(dataset))])  # (N, 3, H, W) uint8
    return rgb2lab(rgb.transpose(0, 2, 3, 1) / 255.0)  # (N, H, W, 3)


@pytest.mark.slow
def test_test_command_logs_the_three_baselines_on_the_test_images(tiny_runs, tmp_path):
    ckpt = tiny_runs[1] / "checkpoints/last.ckpt"
    cli = cli_main(["test", "--config", str(ROOT / "experiments/demo.yaml"), *TINY_DATA,
                    "--model.objective", "colorlab.objectives.Regression", "--model.net.init_args.width", "4",
                    "--trainer.enable_progress_bar", "false", "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path),
                    "--ckpt_path", str(ckpt)])  # fmt: skip
    logged = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    data = ScenesDataModule(train_size=32, val_size=8, test_size=8, batch_size=8)
    data.setup("fit")
    train, test = _lab(data.train_set), _lab(data.test_set)
    mean_ab = train[..., 1:].reshape(-1, 2).mean(axis=0)
    # most frequent bin of the training pixels (skimage's Lab, nearest bin centre by brute force)
    bins = color.ab_bins().numpy()
    nearest = ((train[..., 1:].reshape(-1, 1, 2) - bins[None]) ** 2).sum(-1).argmin(1)
    mode = bins[np.bincount(nearest, minlength=len(bins)).argmax()]
    for name, ab in (("baseline_grey", np.zeros(2)), ("baseline_mean_ab", mean_ab), ("baseline_mode_bin", mode)):
        expected_l1 = np.abs(test[..., 1:] - ab).mean()
        assert logged[f"test/{name}/ab_l1"] == pytest.approx(expected_l1, rel=1e-3), name
        expected_mse = ((test[..., 1:] - ab) ** 2).mean()
        assert logged[f"test/{name}/ab_mse"] == pytest.approx(expected_mse, rel=1e-3), name
    assert "test/ab_l1" in logged  # the model's own row beside them

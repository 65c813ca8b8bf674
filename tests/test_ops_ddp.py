"""DDP on CPU, two gloo processes (``--trainer.devices 2 --trainer.strategy ddp``): training shards are
disjoint, and validation metrics (``val/loss`` included) equal one process's on the same images; an odd
validation size would show any padding sample counted twice."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest

from colorlab.cli import cli_main

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--config", str(ROOT / "experiments/demo.yaml"), "--model.net.init_args.width", "4",
    "--data.init_args.train_size", "16", "--data.init_args.val_size", "9", "--data.init_args.batch_size", "4",
    "--data.init_args.num_workers", "0", "--trainer.enable_progress_bar", "false",
    "--trainer.enable_model_summary", "false", "--trainer.num_sanity_val_steps", "0",
]  # fmt: skip


class IndexRecorder(L.Callback):
    """Writes the training indices each rank saw to $RECORD_DIR/rank<r>.json."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen += batch["index"].tolist()

    def on_train_end(self, trainer, pl_module) -> None:
        record = {"seen": self.seen, "world": trainer.world_size}
        (Path(os.environ["RECORD_DIR"]) / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


def _val_row(metrics_csv: Path) -> dict[str, float]:
    rows = [r for r in csv.DictReader(metrics_csv.open()) if r.get("val/ab_l1")]
    return {k: float(v) for k, v in rows[-1].items() if k.startswith("val/") and v}


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(tmp_path):
    env = {**os.environ, "RECORD_DIR": str(tmp_path), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    ddp = subprocess.run(
        [sys.executable, "-m", "colorlab", "fit", *TINY, "--trainer.max_epochs", "1",
         "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
         "--trainer.callbacks+=test_ops_ddp.IndexRecorder",
         "--trainer.default_root_dir", str(tmp_path / "ddp")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stdout[-3000:] + ddp.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    first, second = set(ranks[0]["seen"]), set(ranks[1]["seen"])
    assert not first & second and first | second == set(range(16)), (sorted(first), sorted(second))

    run = tmp_path / "ddp/lightning_logs/version_0"
    two = _val_row(run / "metrics.csv")
    cli = cli_main(["validate", *TINY, "--trainer.default_root_dir", str(tmp_path / "one"),
                    "--ckpt_path", str(run / "checkpoints/last.ckpt")])  # fmt: skip
    one = {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("val/")}
    print(f"\n{'metric':<24}{'1 process':>14}{'2 processes':>14}")
    for key in sorted(one):
        print(f"{key:<24}{one[key]:>14.6f}{two.get(key, float('nan')):>14.6f}")
    assert {"val/loss", "val/ab_l1", "val/psnr"} <= set(one) and set(one) == set(two)
    for key, value in one.items():
        assert two[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key

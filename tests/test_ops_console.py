"""What a fit prints before its first step: config-driven information and the user's own warnings, not
library chatter (each known message is silenced by exact text in colorlab.ops, or its cause removed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOISE = [
    "tensorboardX` has been removed",  # removed cause: colorlab configures its CSVLogger explicitly
    "Tip:",  # Lightning's product tips
    "LeafSpec",  # torch deprecation inside Lightning
    "overridden `on_after_batch_transfer`",
    "args parameter is intended",  # from colorlab's own commands (demo) passing args
    "does not have many workers",
]


@pytest.mark.slow
def test_fit_console_holds_no_library_chatter(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    out = subprocess.run(
        [sys.executable, "-m", "colorlab", "fit", "--config", str(ROOT / "experiments/demo.yaml"),
         "--trainer.default_root_dir", str(tmp_path), "--trainer.max_steps", "2", "--model.net.init_args.width", "4",
         "--data.init_args.train_size", "16", "--data.init_args.val_size", "8", "--data.init_args.batch_size", "8",
         "--trainer.log_every_n_steps", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    console = out.stdout + out.stderr
    assert out.returncode == 0, console[-3000:]
    assert [n for n in NOISE if n in console] == [], console[:3000]
    assert "Training" in console or "Epoch" in console  # progress is still shown

"""Runs that survive: SIGKILL mid-epoch then ``--ckpt_path last`` ends with the weights of the uninterrupted
run; a non-finite loss stops the run without touching the last good checkpoint; checkpoint files are
written atomically."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from colorlab.cli import cli_main
from colorlab.errors import NonFiniteLossError
from colorlab.objectives import Classification
from colorlab.ops import AtomicCheckpointIO

ROOT = Path(__file__).resolve().parents[1]
# 6 batches per epoch, 3 epochs; a checkpoint after every step; deterministic CPU settings
RUN = [
    "fit", "--config", str(ROOT / "experiments/demo.yaml"), "--model.net.init_args.width", "4",
    "--data.init_args.train_size", "48", "--data.init_args.val_size", "8", "--data.init_args.batch_size", "8",
    "--data.init_args.num_workers", "0", "--trainer.max_epochs", "3", "--trainer.num_sanity_val_steps", "0",
    "--trainer.deterministic", "true", "--trainer.enable_progress_bar", "false",
    "--trainer.enable_model_summary", "false", "--step_checkpoint.every_n_train_steps", "1",
]  # fmt: skip
KILL_STEP = 9  # of 18: mid-way through the second epoch (steps 6..11)
HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
       "PYTHONPATH": os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])}  # kill_switch


def _colorlab(root: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "colorlab", *RUN, "--trainer.default_root_dir", str(root), *extra],
                            env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _weights(ckpt: Path) -> tuple[int, dict[str, torch.Tensor]]:
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    return state["global_step"], state["state_dict"]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path):
    full = _colorlab(tmp_path / "full")
    # the run kills itself as step KILL_STEP starts, every checkpoint of the step before on disk
    killed = _colorlab(tmp_path / "killed", "--trainer.callbacks+", "kill_switch.SigkillAt",
                       "--trainer.callbacks.init_args.step", str(KILL_STEP))  # fmt: skip
    out, _ = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, out
    ckpts = tmp_path / "killed/lightning_logs/version_0/checkpoints"
    step_at_kill, _ = _weights(ckpts / "last.ckpt")
    assert step_at_kill == KILL_STEP and step_at_kill % 6, f"not a mid-epoch checkpoint: step {step_at_kill}"
    resumed = _colorlab(tmp_path / "killed", "--ckpt_path", "last")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert f"resuming from {ckpts / 'last.ckpt'}" in out
    out, _ = full.communicate(timeout=300)
    assert full.returncode == 0, out
    step_full, expected = _weights(tmp_path / "full/lightning_logs/version_0/checkpoints/last.ckpt")
    step_resumed, got = _weights(tmp_path / "killed/lightning_logs/version_1/checkpoints/last.ckpt")
    assert step_full == step_resumed == 18
    differ = {k: (got[k] - v).abs().max().item() for k, v in expected.items() if not torch.equal(got[k], v)}
    print(f"killed at step {step_at_kill}; tensors differing after resume: {len(differ)} / {len(expected)}")
    assert not differ, f"resumed weights differ from the uninterrupted run's: {differ}"


def test_last_checkpoint_is_the_final_state_between_periodic_saves(tmp_path):
    """7 steps, validation every 2, a step checkpoint every 3, lr 0 so val/ab_l1 never improves after the first
    validation: Lightning alone leaves last.ckpt at step 6 (it writes last only beside a top-k save); it must be
    step 7, where the run ended."""
    assert RUN[-2] == "--step_checkpoint.every_n_train_steps"
    cli_main([*RUN[:-2], "--trainer.default_root_dir", str(tmp_path), "--trainer.max_steps", "7",
              "--step_checkpoint.every_n_train_steps", "3", "--trainer.val_check_interval", "2",
              "--trainer.limit_val_batches", "1", "--model.optimizer.init_args.lr", "0"])  # fmt: skip
    ckpts = tmp_path / "lightning_logs/version_0/checkpoints"
    assert sorted(p.name for p in ckpts.glob("*.ckpt")) == ["best-epoch=0.ckpt", "last.ckpt", "step=6.ckpt"]
    assert _weights(ckpts / "best-epoch=0.ckpt")[0] == 2  # the first validation, never improved on
    assert _weights(ckpts / "last.ckpt")[0] == 7


def test_non_finite_loss_stops_before_the_update_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    calls = []
    finite_loss = Classification.loss

    def nan_at_fourth_step(self, out, y_ab):
        calls.append(1)
        return finite_loss(self, out, y_ab) * (float("nan") if len(calls) == 4 else 1.0)

    monkeypatch.setattr(Classification, "loss", nan_at_fourth_step)
    with pytest.raises(NonFiniteLossError, match=r"train/loss is nan at step 3 .*data") as err:
        cli_main([*RUN, "--trainer.default_root_dir", str(tmp_path)])
    last = tmp_path / "lightning_logs/version_0/checkpoints/last.ckpt"
    assert str(last) in str(err.value)
    step, weights = _weights(last)
    assert step == 3 and all(torch.isfinite(w).all() for w in weights.values())
    assert not (tmp_path / "lightning_logs/version_0/checkpoints/step=4.ckpt").exists()


@pytest.mark.parametrize(
    "lr, what, shown",
    [("1e30", "the weights are non-finite after this step's update", r"1e\+30"),  # overflow in the update
     ("1e12", "train/loss is nan", r"1000000000000\.0")],  # finite but huge weights, NaN logits next step
)  # fmt: skip
def test_diverging_learning_rate_is_named(tmp_path, lr, what, shown):
    """Caught before any checkpoint holds the diverged state; the message names the step and the lr."""
    with pytest.raises(NonFiniteLossError, match=rf"{what} at step \d .*learning rate \(\[{shown}\]") as err:
        cli_main([*RUN, "--trainer.default_root_dir", str(tmp_path), "--model.optimizer.init_args.lr", lr])
    for ckpt in tmp_path.rglob("*.ckpt"):
        assert all(torch.isfinite(w).all() for w in _weights(ckpt)[1].values()), ckpt
    assert "last written: " in str(err.value)


def test_atomic_checkpoint_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, path)

    def interrupted(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary left behind

"""Configuration mistakes fail before training starts, naming the key; colour maths stays float32 under
mixed precision."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import torch

from colorlab import color
from colorlab.cli import cli_main
from colorlab.models import FusionNet
from colorlab.objectives import Classification, Regression
from colorlab.pretrained import WeightsError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"k": 0}, "k must be in [1, Q=261]"),
        ({"k": 262}, "k must be in [1, Q=261]"),
        ({"sigma": 0.0}, "sigma must be > 0"),
        ({"sigma": -5.0}, "sigma must be > 0"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"lam": 1.5}, "lam must be in [0, 1]"),
    ],
)
def test_classification_refuses_bad_values_at_construction(kwargs, key):
    with pytest.raises(ValueError, match=key.replace("[", r"\[").replace("]", r"\]")) as err:
        Classification(**kwargs)
    assert "Classification" in str(err.value)


def test_temperature_is_free_when_not_annealing():
    assert Classification(decoding="mode", temperature=0.0).temperature == 0.0


def test_regression_refuses_non_positive_beta():
    with pytest.raises(ValueError, match="beta must be > 0"):
        Regression(loss="smooth_l1", beta=0.0)


def test_cli_names_the_key_before_any_step(tmp_path, capsys):
    with pytest.raises(ValueError, match="Classification: temperature must be > 0"):  # at construction
        cli_main(["fit", "--config", str(ROOT / "experiments/demo.yaml"), "--trainer.default_root_dir", str(tmp_path),
                  "--model.objective.init_args.temperature", "0"])  # fmt: skip
    assert not list(tmp_path.rglob("*.ckpt"))  # nothing trained


def test_fusion_pretrained_offline_says_how_to_use_local_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: nothing to fall back on
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(WeightsError, match="`weights: FILE`.*`pretrained: false`"):
        FusionNet(2, extractor="mobilenetv3_small_050", pretrained=True, width=4)
    with pytest.raises(FileNotFoundError, match="weights file not found: .*nothing.pth"):
        FusionNet(2, extractor="mobilenetv3_small_050", weights=str(tmp_path / "nothing.pth"), width=4)


@pytest.mark.parametrize("how", ["mean", "annealed_mean"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_decode_is_float32_under_autocast(how, dtype):
    """Reference: the expectation over the bins in float64 numpy (softmax of logits / T, times centres);
    float32 rounding at |ab| ~ 100 leaves ~1e-4."""
    gen = torch.Generator().manual_seed(0)
    q = color.ab_bins().shape[0]
    logits = torch.randn(2, q, 8, 8, generator=gen) * 3
    t = 1.0 if how == "mean" else color.ANNEAL_T
    z = logits.double().numpy() / t
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected = np.einsum("bqhw,qc->bchw", p, color.ab_bins().double().numpy())
    with torch.autocast("cpu", dtype=dtype):
        ab = color.decode(logits, how)
    assert ab.dtype == torch.float32
    assert np.abs(ab.double().numpy() - expected).max() < 1e-3  # Lab units; bf16 einsum: ~0.4


def test_losses_are_float32_under_autocast():
    """The loss is computed from float32 logits whatever the autocast dtype: equal to the loss of the same
    (bf16-rounded) output outside autocast."""
    gen = torch.Generator().manual_seed(0)
    y_ab = (torch.rand(2, 2, 8, 8, generator=gen) - 0.5) * 1.2
    for objective in (Classification(), Regression()):
        out = torch.randn(2, objective.channels, 8, 8, generator=gen).bfloat16()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = objective.loss(out, y_ab)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, objective.loss(out.float(), y_ab), rtol=1e-6, atol=1e-6)

"""Training step: time per step of ``LitColorizer`` under Lightning's ``Trainer`` against a hand-written
PyTorch loop doing the same work (uint8 batch -> color.batch_to_lab -> normalize -> net -> objective.loss ->
backward -> Adam step), per architecture with its experiment's network and resolution; then, on the demo
U-Net, the effect of channels_last, bf16-mixed and torch.compile on the hand-written loop; channels_last is also
timed for every architecture (LitColorizer's default, NHWC weights and inputs, against NCHW in the hand-written
loop).

Batches are smaller than the experiments' (``BATCH``) so that every architecture fits the few-minute budget
on 2 cores; each side's time is the faster of two interleaved passes of ``STEPS`` steps.

Run: .venv/bin/python benchmarks/training_step.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import lightning as L
import torch
import yaml
from torch.utils.data import DataLoader, Dataset

from colorlab import color
from colorlab.module import LitColorizer, from_config

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO

STEPS = 3  # timed steps per pass, after one warm-up step
PASSES = 2
# one experiment per architecture: (experiment, image size, batch)
CASES = {
    "UNet": ("demo.yaml", 64, 32),
    "ZhangCNN": ("tinyimagenet_zhang_cls.yaml", 64, 8),
    "ResidualCNN": ("folder_residual_kl_rebal.yaml", 224, 2),
    "Autoencoder": ("fruit_autoencoder.yaml", 100, 8),
    "ResNetRegressor": ("tinyimagenet_resnet_regression.yaml", 64, 16),
    "ResUNet": ("tinyimagenet_res_unet_cls.yaml", 64, 8),
    "FusionNet": ("places69_fusion_inception_cls.yaml", 224, 2),
}


class RandomImages(Dataset):
    """Fixed random uint8 images: the same batches for both loops, no decoding in the timing."""

    def __init__(self, n: int, size: int) -> None:
        self.rgb = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.rgb)

    def __getitem__(self, i: int) -> dict:
        return {"rgb": self.rgb[i]}


def build(experiment: str) -> LitColorizer:
    config = yaml.safe_load((REPO / "experiments" / experiment).read_text())["model"]
    net = config["net"]
    if net["class_path"].endswith("FusionNet"):  # no downloads here: a fixed random extractor of the same shape
        net.setdefault("init_args", {})["pretrained"] = False
    objective = config.get("objective", {}).get("init_args", {})
    if isinstance(objective.get("priors"), str):  # the same rebalancing work with a uniform prior, no file
        q = color.ab_bins().shape[0]
        objective["priors"] = [1.0 / q] * q
    config.pop("scheduler", None)
    return from_config(config)


class StepClock(L.Callback):
    """Wall time from the start of batch 1 (after the warm-up batch 0) to the end of the last batch."""

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == 1:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def lightning_step(model: LitColorizer, loader: DataLoader, precision: str = "32-true") -> float:
    clock = StepClock()
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_steps=STEPS + 1, precision=precision, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, callbacks=[clock],
    )
    trainer.fit(model, loader)
    return (clock.end - clock.start) / STEPS


def plain_step(model: LitColorizer, loader: DataLoader, channels_last: bool | None = None, bf16: bool = False,
               compiled: bool = False) -> float:
    """The same work as LitColorizer.training_step + Lightning's optimisation loop, by hand (``channels_last``
    None: as the model is configured, which is what Lightning runs)."""
    channels_last = model.channels_last if channels_last is None else channels_last
    optimizer = model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    forward = torch.compile(model) if compiled else model
    if channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    start = None
    for step, batch in enumerate(loader):
        if step == 1:
            start = time.perf_counter()
        if step == STEPS + 1:
            break
        x_l, y_ab = color.normalize(color.batch_to_lab(batch))
        if channels_last:
            x_l = x_l.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model.objective.loss(forward(x_l), y_ab)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / STEPS


def run() -> dict:
    per_arch = {}
    for arch, (experiment, size, batch) in CASES.items():
        loader = DataLoader(RandomImages(batch * (STEPS + 1), size), batch_size=batch)
        times = {"lightning": [], "plain": [], "channels_first": []}
        for _ in range(PASSES):  # interleaved, so both sides see the same machine load
            times["lightning"].append(lightning_step(build(experiment), loader))
            times["plain"].append(plain_step(build(experiment), loader))
            times["channels_first"].append(plain_step(build(experiment), loader, channels_last=False))
        t_l, t_p, t_f = min(times["lightning"]), min(times["plain"]), min(times["channels_first"])
        per_arch[arch] = {"experiment": experiment, "image_size": size, "batch": batch,
                          "lightning_ms": round(t_l * 1e3, 1), "plain_ms": round(t_p * 1e3, 1),
                          "overhead": round(t_l / t_p, 3), "images_per_s": round(batch / t_l, 1),
                          "plain_channels_first_ms": round(t_f * 1e3, 1), "channels_last_speedup": round(t_f / t_p, 3)}
        print(f"  {arch}: {per_arch[arch]}", flush=True)
    experiment, size, batch = CASES["UNet"]
    loader = DataLoader(RandomImages(batch * (STEPS + 1), size), batch_size=batch)
    variants = {}
    for name, options in {"default": {}, "channels_first": {"channels_last": False}, "bf16_mixed": {"bf16": True},
                          "torch_compile": {"compiled": True}}.items():
        try:
            variants[name] = round(min(plain_step(build(experiment), loader, **options) for _ in range(PASSES)) * 1e3, 1)
        except (RuntimeError, OSError, ImportError) as err:  # e.g. no C++ compiler for torch.compile on CPU
            variants[name] = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
    return {
        "lightning_overhead": max(a["overhead"] for a in per_arch.values()),
        "training_step": {"steps_per_pass": STEPS, "passes": PASSES, "architectures": per_arch,
                          "demo_unet_step_ms_by_variant": variants},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

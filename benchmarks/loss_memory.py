"""Memory of the classification loss at full resolution: peak memory added by soft-encoding + loss forward
+ backward (the logits' gradient included), against the logits' own size, for colorlab's sparse loss, the
log_softmax + gather form colorlab used before, and the dense soft target (F.cross_entropy with a
(B, Q, H, W) target, what a straightforward implementation holds).

Each case runs in a fresh subprocess (glibc returns large blocks to the OS: MALLOC_MMAP_THRESHOLD_), with
the peak resident set (VmHWM) reset just before the measured call. Batch 4 rather than 16 keeps the dense
case within the benchmark machine's memory next to other work; every buffer involved scales linearly with the batch.

Run: .venv/bin/python benchmarks/loss_memory.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

BATCH = 4
CASES = {"fusion_224": 224, "unet_256": 256}  # FusionNet and U-Net predict bins at full resolution

PROBE = r"""
import sys, torch, torch.nn.functional as F
from colorlab import color
from colorlab.objectives import Classification
torch.set_num_threads(1)
method, batch, sides = sys.argv[1], int(sys.argv[2]), map(int, sys.argv[3:])
def status(key):
    with open("/proc/self/status") as s:
        return next(int(l.split()[1]) for l in s if l.startswith(key)) / 1024  # MB
objective = Classification()
def old_loss(out, y_ab):  # colorlab's loss before the sparse Function
    idx, weight = color.soft_encode(y_ab * color.AB_SCALE)
    return -(weight * torch.log_softmax(out.float(), dim=1).gather(1, idx)).sum(1).mean()
def dense_loss(out, y_ab):
    idx, weight = color.soft_encode(y_ab * color.AB_SCALE)
    target = torch.zeros_like(out).scatter_(1, idx, weight)  # (B, Q, H, W) float32
    return F.cross_entropy(out, target)
loss = {"colorlab": objective.loss, "log_softmax_gather": old_loss, "dense_target": dense_loss}[method]
small = torch.randn(1, objective.channels, 16, 16, requires_grad=True)
loss(small, torch.zeros(1, 2, 16, 16)).backward()  # build tables and warm up outside the measurement
for side in sides:
    g = torch.Generator().manual_seed(side)
    y_ab = color.rgb_to_lab(torch.rand(batch, 3, side, side, generator=g))[:, 1:] / color.AB_SCALE
    logits = torch.randn(batch, objective.channels, side, side, generator=g).requires_grad_()
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS to the current RSS
    value = loss(logits, y_ab)
    value.backward()
    print(status("VmHWM") - before, logits.numel() * 4 / 2**20, value.item())
    del logits, value, y_ab
"""


def measure(method: str) -> list[tuple[float, float, float]]:
    """(peak extra MB, logits MB, loss value) for each of ``CASES``."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    sides = [str(side) for side in CASES.values()]
    out = subprocess.run([sys.executable, "-c", PROBE, method, str(BATCH), *sides], env=env,
                         capture_output=True, text=True, check=True)
    return [tuple(map(float, line.split())) for line in out.stdout.splitlines()]


def run() -> dict:
    methods = ("colorlab", "log_softmax_gather", "dense_target")
    measured = {method: measure(method) for method in methods}
    cases = {}
    for i, name in enumerate(CASES):
        figures = {}
        for method in methods:
            extra, logits_mb, value = measured[method][i]
            figures[method] = {"peak_extra_mb": round(extra), "ratio_to_logits": round(extra / logits_mb, 2),
                               "loss": value}
        values = [figures[m]["loss"] for m in methods]
        figures["logits_mb"] = round(logits_mb)
        figures["loss_max_relative_difference"] = float(f"{(max(values) - min(values)) / min(values):.1e}")
        cases[name] = figures
    worst = max(cases.values(), key=lambda c: c["colorlab"]["ratio_to_logits"])
    return {
        "cls_loss_peak_mb": worst["colorlab"]["peak_extra_mb"],
        "dense_target_mb": worst["logits_mb"],  # a dense float32 (B, Q, H, W) target is the logits' size
        "cls_loss_memory": {"batch": BATCH, "note": "batch 4, not 16: the dense case would not fit next to "
                            "the other work on this machine; every buffer scales linearly with the batch", **cases},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

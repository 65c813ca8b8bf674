"""``make demo`` training speed before and after, side by side: the demo experiment's training steps (its
U-Net, objective, optimizer and ScenesDataModule under Lightning's Trainer, no validation) for this tree
and for a baseline revision extracted with ``git archive``, alternating, in one run on the same machine.
Also this tree with the demo's U-Net predicting bins at full resolution (``out_stride: 1``; the demo uses 2).

Run: .venv/bin/python benchmarks/demo_speed.py [BASELINE_REVISION]   (default: 76eb8e5, the committed figures' baseline)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO

BASELINE = "76eb8e5"  # the "before" of the committed figures in results.json
STEPS = 6  # timed training steps per run, after one warm-up step
PASSES = 2

PROBE = r"""
import json, sys, time
import lightning as L, torch, yaml
from colorlab.module import from_config
import colorlab.data
torch.set_num_threads(1)
config = yaml.safe_load(open(sys.argv[1]))
steps, out_stride = int(sys.argv[2]), int(sys.argv[3])
if out_stride > 0:  # 0: as the config says
    config["model"]["net"]["init_args"]["out_stride"] = out_stride
data = config["data"]
dm = getattr(colorlab.data, data["class_path"].rsplit(".", 1)[1])(**data.get("init_args", {}))
model = from_config(config["model"])
class Clock(L.Callback):
    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == 1:
            self.start = time.perf_counter()
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.end = time.perf_counter()
clock = Clock()
trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps + 1, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                    limit_val_batches=0, callbacks=[clock])
trainer.fit(model, dm)
seconds = (clock.end - clock.start) / steps
print(json.dumps({"steps_per_s": 1 / seconds, "images_per_s": data["init_args"]["batch_size"] / seconds}))
"""


def measure(tree: Path, out_stride: int = 0) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(tree / "experiments" / "demo.yaml"), str(STEPS), str(out_stride)],
                         check=False, env=env, cwd=tree, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"demo probe failed in {tree}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(baseline: str = BASELINE) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", baseline, "colorlab", "experiments"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        runs = {"before": [], "after": [], "after_full_resolution": []}
        for _ in range(PASSES):  # alternating, so both trees see the same machine load
            runs["before"].append(measure(before))
            runs["after"].append(measure(REPO))
            runs["after_full_resolution"].append(measure(REPO, out_stride=1))
    best = {name: max(r, key=lambda m: m["images_per_s"]) for name, r in runs.items()}
    figures = {name: {k: round(v, 2) for k, v in m.items()} for name, m in best.items()}
    return {"demo_training": {"baseline_revision": baseline, "timed_steps": STEPS, "passes": PASSES,
                              "torch_threads": 1, **figures,
                              "speedup": round(best["after"]["images_per_s"] / best["before"]["images_per_s"], 2),
                              "speedup_full_resolution": round(best["after_full_resolution"]["images_per_s"]
                                                            / best["before"]["images_per_s"], 2)}}


if __name__ == "__main__":
    print(json.dumps(run(*sys.argv[1:]), indent=2))

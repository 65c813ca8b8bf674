"""``python -m colorlab demo``: train the demo experiment on the built-in procedural scenes (about 1 minute on
2 CPU cores), reload its best checkpoint, and report on the test split beside the three constant baselines
(grey, training mean ab, most frequent training bin), with a sample grid.

    python -m colorlab demo [--config EXPERIMENT.yaml] [--output DIR] [fit options, e.g. --trainer.max_epochs 1]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from colorlab import color
from colorlab.arguments import experiment_file, option, without_options
from colorlab.callbacks import comparison_grid
from colorlab.errors import ColorlabError
from colorlab.evaluate import ab_statistics, baseline_constants, evaluate, lab_batches, results_markdown
from colorlab.machine import pick_device
from colorlab.module import LitColorizer
from colorlab.train import ColorlabCLI

USAGE = """usage: python -m colorlab demo [--config EXPERIMENT.yaml] [--output DIR] [fit options]

Train the demo experiment (default experiments/demo.yaml) on the built-in procedural scenes, about
1 minute on 2 CPU cores, then write a sample grid and the test split's metrics beside the three
constant baselines (grey, training mean ab, most frequent training bin) under --output (default
outputs/demo). Other options go to `fit`, e.g. --trainer.max_epochs 1."""


def run_demo(config: str | Path, output: str | Path, fit_args: list[str]) -> dict[str, Any]:
    """Train ``config`` (an experiment YAML) under ``output`` with extra ``fit`` options, then evaluate the best
    checkpoint on the test split beside the baselines estimated from the training split.

    Returns:
        {"split": "test", "images", "checkpoint", "baselines", "results"} (also written to demo_metrics.json).
    """
    cli = ColorlabCLI(["fit", "--config", str(config), "--trainer.default_root_dir", str(output), *fit_args])
    model, datamodule = cli.model, cli.datamodule
    best = cli.trainer.checkpoint_callback.best_model_path if cli.trainer.checkpoint_callback else ""
    if best:
        model = LitColorizer.load_from_checkpoint(best, map_location="cpu")
    device = pick_device()
    statistics = ab_statistics(datamodule.train_dataloader(), device)
    baselines = baseline_constants(statistics)
    # Report on images that played no part in choosing the checkpoint (the best one is picked on val).
    if datamodule.test_set is None:
        datamodule.setup("test")
    if datamodule.test_set is None:
        raise ColorlabError(f"{type(datamodule).__name__} has no test split; demo reports on a test split")
    loader = datamodule.test_dataloader()
    results = evaluate({"model": model}, loader, baselines, color.smooth_prior(statistics["counts"]), device=device)
    run_dir = Path(cli.trainer.log_dir or output)
    lab = next(lab_batches(loader, device, desc="grid"))[:8]
    with torch.no_grad():
        comparison_grid(lab, model.colorize(color.normalize(lab)[0])).save(run_dir / "demo_grid.png")
    saved = {"split": "test", "images": len(datamodule.test_set), "checkpoint": best,
             "baselines": {name: ab.tolist() for name, ab in baselines.items()}, "results": results}  # fmt: skip
    (run_dir / "demo_metrics.json").write_text(json.dumps(saved, indent=1))
    print("\n" + results_markdown({f"test split ({len(datamodule.test_set)} images)": results}, {}))
    ours, const = results["model"]["metrics"]["ab_l1"], results["baseline_mean_ab"]["metrics"]["ab_l1"]
    change = 100 * (1 - ours / const)
    print(f"test ab L1 is {abs(change):.1f}% {'below' if change >= 0 else 'ABOVE'} the constant mean-ab predictor's")
    print(f"grid:    {run_dir / 'demo_grid.png'} (grayscale | prediction | ground truth)\n"
          f"metrics: {run_dir / 'demo_metrics.json'}\ncheckpoint: {best}")
    return saved


def main(args: list[str]) -> dict[str, Any]:
    """``python -m colorlab demo ARGS``: ``--config`` and ``--output`` are the demo's; the rest go to ``fit``."""
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return {}
    config = option(args, "--config") or experiment_file("demo.yaml")
    output = option(args, "--output") or "outputs/demo"
    return run_demo(config, output, without_options(args, ("--config", "--output")))

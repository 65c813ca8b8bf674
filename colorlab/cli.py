"""The command line: ``python -m colorlab <command>``. This module parses the command name and dispatches;
each command lives in its own module, imported only when it runs (``--help`` stays fast).

- ``fit``, ``validate``, ``test``, ``predict``: LightningCLI over LitColorizer and any colorlab DataModule,
  configured by an experiment YAML (``colorlab.train``).
- ``priors``: bin frequencies of an experiment's training split, for class rebalancing (``colorlab.priors``).
- ``demo``: train on the built-in procedural scenes, then report beside the three baselines (``colorlab.demo``).
- ``evaluate``, ``report``: checkpoints x datasets tables; an HTML page comparing runs (``colorlab.evaluate``,
  ``colorlab.report``).
- ``shards``: convert a dataset into LitData shards, for ``StreamingDataModule`` (``colorlab.shards``).
- ``colorize``: photos, folders, globs and videos at full resolution with a checkpoint (``colorlab.colorize``).
- ``export``: a checkpoint's network as ONNX or TorchScript with its contract (``colorlab.export``).
- ``models``: the model zoo shipped in the package (``colorlab.zoo``); ``--model NAME`` in place of
  ``--ckpt_path`` in colorize, evaluate, export, validate, test, predict and app.
- ``app``: a local web page to colorize photos (``colorlab.app``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

COMMANDS: dict[str, tuple[str, str]] = {
    # command: ("module:function" called with the arguments after the command name, one line for --help)
    "fit": ("colorlab.train:fit", "train a model"),
    "validate": ("colorlab.train:validate", "evaluate on the validation split"),
    "test": ("colorlab.train:test", "evaluate on the test split, beside the three constant baselines"),
    "predict": ("colorlab.train:predict", "colorize the predict split into files"),
    "priors": ("colorlab.priors:main", "compute class-rebalancing priors over an experiment's training split"),
    "demo": ("colorlab.demo:main", "train on the built-in procedural scenes, report beside three constant baselines"),
    "evaluate": ("colorlab.evaluate:main", "checkpoints x datasets table beside the three baselines (Markdown, CSV, JSON)"),
    "report": ("colorlab.report:main", "HTML + Markdown report comparing runs: table, curves, histograms, samples"),
    "shards": ("colorlab.shards:main", "convert a dataset into LitData shards for streaming"),
    "colorize": ("colorlab.colorize:main", "colorize photos, folders and videos at full resolution (zoo model or checkpoint)"),
    "export": ("colorlab.export:main", "export a checkpoint's network as ONNX or TorchScript, checked against PyTorch"),
    "models": ("colorlab.zoo:models_main", "list the models shipped with colorlab (use one with --model NAME)"),
    "app": ("colorlab.app:app_main", "a local web page: upload photos, colorize them, download the results"),
}  # fmt: skip


def cli_main(args: list[str] | None = None) -> Any:
    """Entry point; ``args`` is the argument list exactly as a user types it after ``python -m colorlab``
    (default ``sys.argv[1:]``). Returns what the command returns (the LightningCLI for fit ... predict)."""
    argv = sys.argv[1:] if args is None else list(args)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m colorlab <command> [--config EXPERIMENT.yaml] [options]\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<10}{text}")
        print("\n`python -m colorlab <command> --help` describes each command's options.")
        return None
    if argv[0] not in COMMANDS:  # LightningCLI's own message: invalid choice, with the choices
        from colorlab.train import ColorlabCLI

        return ColorlabCLI(argv)
    module, function = COMMANDS[argv[0]][0].split(":")
    return getattr(importlib.import_module(module), function)(argv[1:])

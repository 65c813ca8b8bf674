"""The model zoo: colorlab's best models, shipped inside the package as weights-only files.

    python -m colorlab models                                    # name, what it is, scores, size
    python -m colorlab colorize --input photo.jpg                # the default model
    python -m colorlab colorize --model NAME --input photo.jpg   # another one
    python -m colorlab fit --config experiments/finetune_folder.yaml --data.root photos/   # fine-tune one

Each model is one safetensors file beside ``manifest.json``, whose entry for it holds:

- ``model``: the ``net`` and ``objective`` config that rebuilds it (``colorlab.network.build``), with any
  ``pretrained`` switch off, so rebuilding needs neither a weight package nor the hub: every weight comes
  from the file;
- ``train_resolution``, ``results`` (the row it was scored with: ab L1, ab L2, top-1, colourfulness, and on
  which images), ``training`` (data, command, git commit), ``size_bytes`` and ``sha256``;
- ``fp16_check``: weight matrices are stored in float16 (half the size), everything else in float32, and
  ``add`` measured how far that moves the predictions (at most ``FP16_TOLERANCE``); loaded models are float32.

The sha256 is checked every time a file is read: a file that does not match is refused, naming it.
Maintainers add, replace and remove models with ``python -m colorlab.zoo`` (``colorlab/zoo/__main__.py``);
a model is replaced only by one whose results row is better, and the zoo holds at most ``MAX_MODELS``
files of at most ``MAX_BYTES`` each (package data: a plain ``pip install`` has them).

This module imports torch only when a model is loaded: ``python -m colorlab models`` reads JSON alone. Loading a
model imports neither Lightning nor timm (``colorlab.network``).
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colorlab.errors import ColorlabError
from colorlab.zoo import store  # noqa: F401  (tests point store.ZOO_DIR at a copy)
from colorlab.zoo.store import (  # noqa: F401  (the zoo's public names)
    FP16_TOLERANCE,
    MANIFEST,
    MAX_BYTES,
    MAX_MODELS,
    RANKED_METRICS,
    ZOO_DIR,
    _root,
    default_name,
    entry,
    load_net_weights,
    manifest,
    names,
    net_weights,
    sha256,
    state_dict,
    verified_file,
)

if TYPE_CHECKING:
    from colorlab.network import ColorModel

_SCRATCH: tempfile.TemporaryDirectory | None = None  # zoo models written as checkpoints, removed at exit


# ------------------------------------------------------------------------------ loading
def load(name: str | None = None, root: str | os.PathLike | None = None) -> ColorModel:
    """Zoo model ``name`` (default: the manifest's default) as a float32 ColorModel on the CPU, in eval mode. Its
    config is checked as a checkpoint's is (``colorlab.checkpoint``) before anything is imported."""
    from colorlab.network import build

    name = default_name(root) if name is None else name
    found = entry(name, root)
    model = build(found["model"], f"zoo model {name}", tuple(found["train_resolution"]))
    model.load_state_dict(state_dict(name, root))
    return model.eval()


def checkpoint_file(name: str, root: str | os.PathLike | None = None) -> Path:
    """Zoo model ``name`` written as a Lightning checkpoint ``<temp dir>/<name>.ckpt`` (removed at exit), for the
    commands that read checkpoints: ``evaluate``, and ``validate`` / ``test`` / ``predict`` (whose LightningCLI
    takes the net and objective from the checkpoint's hyperparameters)."""
    import lightning
    import torch

    from colorlab import color
    from colorlab.module import _INSTANTIATOR

    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.TemporaryDirectory(prefix="colorlab-zoo-")
    found = entry(name, root)
    path = Path(_SCRATCH.name) / f"{name}.ckpt"
    torch.save({
        "state_dict": load(name, root).state_dict(),
        "hyper_parameters": {**copy.deepcopy(found["model"]), "_instantiator": _INSTANTIATOR},
        "colorlab": {"l_scale": color.L_SCALE, "ab_scale": color.AB_SCALE, "ab_bins": color.ab_bins(),
                     "train_resolution": tuple(found["train_resolution"])},
        "pytorch-lightning_version": lightning.__version__,
    }, path)  # fmt: skip
    return path


def checkpoint_args(args: list[str], root: str | os.PathLike | None = None) -> list[str] | None:
    """``args`` of ``validate`` / ``test`` / ``predict`` with ``--model NAME`` (a zoo model's name) replaced by
    ``--ckpt_path <checkpoint_file(NAME)>``; None when they name no zoo model (``--model`` may also be a model
    config file, which LightningCLI reads as usual)."""
    known = names(root)
    for i, arg in enumerate(args):
        if arg == "--model" and i + 1 < len(args) and args[i + 1] in known:
            return [*args[:i], "--ckpt_path", str(checkpoint_file(args[i + 1], root)), *args[i + 2 :]]
        if arg.startswith("--model=") and arg.split("=", 1)[1] in known:
            return [*args[:i], "--ckpt_path", str(checkpoint_file(arg.split("=", 1)[1], root)), *args[i + 1 :]]
    return None


# ------------------------------------------------------------------------------ listing
def _what(found: dict[str, Any]) -> str:
    if found.get("description"):
        return found["description"]
    net, objective = found["model"]["net"], found["model"].get("objective") or {}
    return f"{net['class_path'].rsplit('.', 1)[-1]}, {objective.get('class_path', 'Regression').rsplit('.', 1)[-1]}"


def table(root: str | os.PathLike | None = None) -> str:
    """The zoo as a text table: name (* = default), what it is, its results row, file size."""
    zoo = manifest(root)
    head = ("name", "what it is", "ab L1", "ab L2", "top-1", "colourful.", "size", "scored on")
    rows = []
    for name, found in zoo["models"].items():
        scores = found.get("results", {})
        keys = ("ab_l1", "ab_l2", "top1", "colorfulness_ratio")
        numbers = ["" if scores.get(k) is None else f"{scores[k]:.4g}" for k in keys]
        rows.append((name + ("*" if name == zoo["default"] else ""), _what(found), *numbers,
                     f"{found['size_bytes'] / 1e6:.1f} MB", str(scores.get("evaluated_on", ""))))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [head, *rows]]
    note = ("* the default: `python -m colorlab colorize --input PHOTO` uses it; `--model NAME` picks another.\n"
            "ab L1 / L2: mean |error| and squared error of ab/128 per pixel (lower is better); top-1: share of pixels "
            "in the right ab bin; colourful.: colourfulness of the predictions / of the truth.")  # fmt: skip
    return "\n".join(lines) + "\n\n" + (note if rows else "the zoo is empty")


def models_main(args: list[str]) -> dict[str, Any]:
    """``python -m colorlab models``: print ``table()``."""
    if args and args[0] in ("-h", "--help"):
        print("usage: python -m colorlab models\n\nList the models shipped with colorlab (the model zoo): name, what "
              "it is, its scores, its file size.\nUse one with --model NAME in colorize, evaluate, export, predict, "
              "validate, test and app;\nfine-tune one with --model.init_weights NAME in fit.")  # fmt: skip
        return {}
    if args:
        raise ColorlabError(f"models takes no arguments, got {' '.join(args)}")
    print(table())
    return manifest()

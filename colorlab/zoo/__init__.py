"""The model zoo: colorlab's best models, shipped inside the package as weights-only files.

    python -m colorlab models                                    # name, what it is, scores, size
    python -m colorlab colorize --input photo.jpg                # the default model
    python -m colorlab colorize --model NAME --input photo.jpg   # another one
    python -m colorlab fit --config experiments/finetune_folder.yaml --data.root photos/   # fine-tune one

Each model is one safetensors file beside ``manifest.json``, whose entry for it holds:

- ``model``: the ``net`` and ``objective`` config that rebuilds it (``colorlab.module.from_config``), with any
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

This module imports torch only when a model is loaded: ``python -m colorlab models`` reads JSON alone.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from colorlab.module import LitColorizer

ZOO_DIR = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
MAX_MODELS = 2
MAX_BYTES = 15_000_000  # per file (the 15 MB); an EfficientNet-Lite0 U-Net in float16 is ~7 MB
FP16_TOLERANCE = 0.01  # max |ab/128| change from storing weights in float16: 1.3 Lab units, below a just-visible 2.3
# results-row metrics that decide whether a replacement is better: key -> True when higher is better
RANKED_METRICS = {"ab_l1": False, "ab_l2": False, "top1": True}
_SCRATCH: tempfile.TemporaryDirectory | None = None  # zoo models written as checkpoints, removed at exit


# ------------------------------------------------------------------------------ manifest
def _root(root: str | os.PathLike | None) -> Path:
    return ZOO_DIR if root is None else Path(root)


def manifest(root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest: {"default": name or None, "models": {name: entry}} (empty when there is no file)."""
    path = _root(root) / MANIFEST
    if not path.is_file():
        return {"default": None, "models": {}}
    return json.loads(path.read_text())


def names(root: str | os.PathLike | None = None) -> list[str]:
    return list(manifest(root)["models"])


def default_name(root: str | os.PathLike | None = None) -> str:
    """The model ``colorize`` uses when given neither ``--model`` nor ``--ckpt_path``."""
    name = manifest(root)["default"]
    if name is None:
        raise ValueError(f"the model zoo ({_root(root)}) is empty: give --ckpt_path")
    return name


def entry(name: str, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest entry of zoo model ``name``; ValueError listing the zoo's models if there is none."""
    models = manifest(root)["models"]
    if name not in models:
        raise ValueError(f"no zoo model {name!r}; the zoo has {', '.join(models) or 'none'} (python -m colorlab models)")
    return models[name]


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_file(name: str, root: str | os.PathLike | None = None) -> Path:
    """The weights file of zoo model ``name`` after checking its sha256 against the manifest's."""
    expected = entry(name, root)["sha256"]
    path = _root(root) / entry(name, root)["file"]
    if not path.is_file():
        raise FileNotFoundError(f"zoo model {name}: its weights file {path} is missing (reinstall colorlab)")
    found = sha256(path)
    if found != expected:
        raise ValueError(
            f"{path}: sha256 {found} does not match the manifest's {expected}; refused (the file is damaged or "
            f"was replaced: reinstall colorlab)"
        )
    return path


# ------------------------------------------------------------------------------ loading
def model_state(model: LitColorizer) -> dict[str, torch.Tensor]:
    """What a zoo file holds of a LitColorizer: its net's tensors as ``net.*`` and its objective's buffers as
    ``objective.*`` (not its ``state_dict()``, where a net's ``encoder`` appears twice, as ``encoder.*`` too)."""
    parts = {"net": model.net, "objective": model.objective}
    return {f"{part}.{k}": v for part, module in parts.items() for k, v in module.state_dict().items()}


def load_state(model: LitColorizer, state: dict[str, torch.Tensor]) -> None:
    """Load ``model_state``'s tensors into ``model`` (strictly: every tensor of the net and objective, no other)."""
    for part in ("net", "objective"):
        tensors = {k.removeprefix(f"{part}."): v for k, v in state.items() if k.startswith(f"{part}.")}
        getattr(model, part).load_state_dict(tensors)
    strays = [k for k in state if not k.startswith(("net.", "objective."))]
    if strays:
        raise ValueError(f"zoo weights hold tensors of neither net nor objective: {strays[:3]}")


def state_dict(name: str, root: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """Zoo model ``name``'s tensors (``model_state``), float32, its file's sha256 checked first."""
    from safetensors.torch import load_file

    state = load_file(str(verified_file(name, root)))
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def load(name: str | None = None, root: str | os.PathLike | None = None) -> LitColorizer:
    """Zoo model ``name`` (default: the manifest's default) as a float32 LitColorizer on the CPU, in eval mode.
    Its config is checked as a checkpoint's is (``colorlab.checkpoint``) before anything is imported."""
    from colorlab.checkpoint import check_class_paths
    from colorlab.module import from_config

    name = default_name(root) if name is None else name
    found = entry(name, root)
    check_class_paths(found["model"], f"zoo model {name}")
    model = from_config(copy.deepcopy(found["model"]))
    load_state(model, state_dict(name, root))
    model.train_resolution = tuple(found["train_resolution"])
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


def net_weights(source: str, root: str | os.PathLike | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """(the network's tensors keyed as in ``net.state_dict()``, where they came from) of ``source``: a zoo model's
    name, a ``.ckpt`` checkpoint (read safely, ``colorlab.checkpoint``) or a ``.safetensors`` file (a zoo file,
    or any state dict with ``net.*`` keys or a bare network's keys)."""
    import torch

    if source in names(root):
        state, origin = state_dict(source, root), f"zoo model {source}"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"init_weights: {source} is neither a zoo model ({', '.join(names(root)) or 'none'}) nor a file"
            )
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            from colorlab.checkpoint import read

            state = read(path).get("state_dict", {})
        origin = str(path)
    net = {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
    net = net or {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    return net, origin


def load_net_weights(net: nn.Module, source: str, root: str | os.PathLike | None = None) -> str:
    """Copy ``source``'s network weights (``net_weights``) into ``net``, which must fit them exactly.

    Raises:
        ValueError: naming the first tensor of ``net`` (in its own order) that is missing from the weights or
            has another shape there, or else the first tensor the net lacks; nothing is copied.

    Returns:
        where the weights came from.
    """
    given, origin = net_weights(source, root)
    expected = net.state_dict()
    misfits = [k for k in expected if k not in given or given[k].shape != expected[k].shape]
    extra = [k for k in given if k not in expected]
    advice = "configure the net as the weights were trained (python -m colorlab models shows a zoo model's net)"
    if misfits:
        key = misfits[0]
        found = f"is {tuple(given[key].shape)} there" if key in given else "is missing there"
        raise ValueError(
            f"init_weights {origin} do not fit the configured {type(net).__name__}: {key} {found}, "
            f"{tuple(expected[key].shape)} in the net ({len(misfits)} of its {len(expected)} tensors differ); {advice}"
        )
    if extra:
        raise ValueError(
            f"init_weights {origin} do not fit the configured {type(net).__name__}: the weights hold {extra[0]}, "
            f"which the net has not ({len(extra)} such tensors); {advice}"
        )
    net.load_state_dict({k: given[k].to(v.dtype) for k, v in expected.items()})
    return origin


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
        raise ValueError(f"models takes no arguments, got {' '.join(args)}")
    print(table())
    return manifest()

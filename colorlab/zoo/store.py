"""The zoo's files: the manifest, sha256-checked safetensors, and network weights for fine-tuning.

This module imports nothing of colorlab's training code (``colorlab.module`` imports it for ``init_weights``);
``colorlab.zoo`` builds whole models from it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colorlab.errors import ColorlabError, MissingFileError

if TYPE_CHECKING:
    import torch
    from torch import nn

ZOO_DIR = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
MAX_MODELS = 2
MAX_BYTES = 15_000_000  # per file (the 15 MB); an EfficientNet-Lite0 U-Net in float16 is ~7 MB
FP16_TOLERANCE = 0.01  # max |ab/128| change from storing weights in float16: 1.3 Lab units, below a just-visible 2.3
# results-row metrics that decide whether a replacement is better: key -> True when higher is better
RANKED_METRICS = {"ab_l1": False, "ab_l2": False, "top1": True}


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
        raise ColorlabError(f"the model zoo ({_root(root)}) is empty: give --ckpt_path")
    return name


def entry(name: str, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The manifest entry of zoo model ``name``; ValueError listing the zoo's models if there is none."""
    models = manifest(root)["models"]
    if name not in models:
        raise ColorlabError(f"no zoo model {name!r}; the zoo has {', '.join(models) or 'none'} (python -m colorlab models)")
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
        raise MissingFileError(f"zoo model {name}: its weights file {path} is missing (reinstall colorlab)")
    found = sha256(path)
    if found != expected:
        raise ColorlabError(
            f"{path}: sha256 {found} does not match the manifest's {expected}; refused (the file is damaged or "
            f"was replaced: reinstall colorlab)"
        )
    return path


def state_dict(name: str, root: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """Zoo model ``name``'s tensors (a ``ColorModel``'s ``net.*`` and ``objective.*``), float32, its file's sha256
    checked first."""
    from safetensors.torch import load_file

    state = load_file(str(verified_file(name, root)))
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


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
            raise MissingFileError(
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
        raise ColorlabError(
            f"init_weights {origin} do not fit the configured {type(net).__name__}: {key} {found}, "
            f"{tuple(expected[key].shape)} in the net ({len(misfits)} of its {len(expected)} tensors differ); {advice}"
        )
    if extra:
        raise ColorlabError(
            f"init_weights {origin} do not fit the configured {type(net).__name__}: the weights hold {extra[0]}, "
            f"which the net has not ({len(extra)} such tensors); {advice}"
        )
    net.load_state_dict({k: given[k].to(v.dtype) for k, v in expected.items()})
    return origin

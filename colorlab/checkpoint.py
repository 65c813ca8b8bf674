"""Reading checkpoints without running code from them.

Every checkpoint colorlab opens goes through ``read`` first: ``LitColorizer.load_from_checkpoint``,
``colorize``, ``export`` and ``--ckpt_path`` of fit / validate / test / predict.

- The file is unpickled with ``torch.load(weights_only=True)``: only tensors, numbers, strings and
  containers; a pickle that would call a function (``os.system`` through ``__reduce__``) is refused.
- A checkpoint names the classes that rebuild its model (``class_path`` entries of its hyperparameters),
  and rebuilding imports them, so an import alone could run code from any module on ``sys.path``. Before
  anything is imported, every name must lie in colorlab itself, ``torch.optim`` (optimizers and
  ``torch.optim.lr_scheduler``) or ``timm.models``. For your own network classes, list their modules in
  the environment variable ``COLORLAB_TRUSTED_MODULES`` (comma-separated, e.g. ``mypkg.nets,mylab``).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import torch

from colorlab.errors import ColorlabError, MissingFileError

TRUSTED_MODULES = ("colorlab", "torch.optim", "timm.models")
TRUST_ENV = "COLORLAB_TRUSTED_MODULES"
# Hyperparameters whose plain-string value jsonargparse would import as a callable's dotted path.
_CALLABLE_KEYS = ("net", "optimizer", "scheduler")


def trusted_modules() -> tuple[str, ...]:
    """colorlab's own trusted module prefixes plus those listed in ``COLORLAB_TRUSTED_MODULES``."""
    extra = [m.strip() for m in os.environ.get(TRUST_ENV, "").split(",") if m.strip()]
    return TRUSTED_MODULES + tuple(extra)


def is_trusted(class_path: str) -> bool:
    """Whether the dotted name ``class_path`` lies inside one of ``trusted_modules()`` (a whole module
    name: ``colorlab.models.UNet`` is inside ``colorlab``, ``colorlab_evil.X`` is not)."""
    return any(class_path.startswith(module + ".") for module in trusted_modules())


def _named_classes(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    """(location, name) of every ``class_path`` / ``_class_path`` entry below ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("class_path", "_class_path"):
                yield f"{where}.{key}", item
            else:
                yield from _named_classes(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _named_classes(item, f"{where}[{i}]")


def check_class_paths(hparams: dict[str, Any], source: str) -> None:
    """Raise ValueError if the hyperparameters ``hparams`` of checkpoint ``source`` name a class outside
    ``trusted_modules()``. Nothing is imported."""
    named = list(_named_classes(hparams, "hyper_parameters"))
    named += [(f"hyper_parameters.{k}", hparams[k]) for k in _CALLABLE_KEYS if isinstance(hparams.get(k), str)]
    for where, name in named:
        if not isinstance(name, str) or not is_trusted(name):
            raise ColorlabError(
                f"{source}: {where} is {name!r}, outside the modules colorlab imports from a checkpoint "
                f"({', '.join(trusted_modules())}); refused before importing anything. If you trust this file "
                f"and that module, add it to the {TRUST_ENV} environment variable (comma-separated)."
            )


def read(source: str | os.PathLike | IO[bytes], map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check its class names (see the module docstring).

    Args:
        source: a ``.ckpt`` file (or an open binary file).
        map_location: as for ``torch.load``.

    Returns:
        the checkpoint dict.
    """
    name = str(source) if isinstance(source, (str, os.PathLike)) else "checkpoint"
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        raise MissingFileError(f"checkpoint not found: {source}")
    try:
        checkpoint = torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ColorlabError(
            f"{name}: refused to load: it holds objects other than tensors, numbers, strings and containers, "
            f"and unpickling them could run code ({first})"
        ) from None
    if not isinstance(checkpoint, dict):
        raise TypeError(f"{name} is not a Lightning checkpoint (a dict), got {type(checkpoint).__name__}")
    hparams = checkpoint.get("hyper_parameters") or {}
    if not isinstance(hparams, dict):
        raise TypeError(f"{name}: hyper_parameters must be a dict, got {type(hparams).__name__}")
    check_class_paths(hparams, name)
    return checkpoint

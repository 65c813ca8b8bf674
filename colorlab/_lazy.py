"""Packages whose public names are imported on first use (PEP 562), so that importing one network or one
DataModule does not import its siblings' dependencies (Lightning, timm, torchvision): a zoo model's
``colorize`` then starts without them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public name N lives in submodule ``where[N]``."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)  # the next access is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__


def import_all(package: Any) -> None:
    """Import every public name of a lazy ``package`` (jsonargparse finds subclasses among imported classes)."""
    for name in package.__all__:
        getattr(package, name)

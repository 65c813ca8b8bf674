"""What the commands share in parsing their arguments: an experiment's ``data:`` section as the DataModule
(``--config X.yaml --data.* ...``), the value of one option, and the experiments folder.

Every command builds its parser from typed signatures (``add_function_arguments``): the signature and its
docstring's ``Args:`` are the options and their ``--help``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentParser

from colorlab.data.base import ColorDataModule
from colorlab.errors import ColorlabError

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
"""The experiment YAMLs of a source checkout (not part of an installed package)."""


def experiment_file(name: str) -> Path:
    """``experiments/<name>`` of the source checkout colorlab runs from; an installed package has none, which
    the error says (with what to pass instead)."""
    path = EXPERIMENTS / name
    if not path.is_file():
        raise ColorlabError(
            f"experiments/{name} not found: the experiment YAMLs come with the colorlab source (its experiments/ "
            f"folder, {EXPERIMENTS}), not with an installed package; give one with --config PATH"
        )
    return path


def experiment_data_parser(prog: str, description: str) -> ArgumentParser:
    """A parser of ``--config EXPERIMENT.yaml`` (its ``data:`` section is the DataModule) and ``--data.*``
    overrides."""
    parser = ArgumentParser(prog=prog, description=description, exit_on_error=True)
    parser.add_argument("--config", required=True, help="experiment YAML; its data: section is used")
    parser.add_subclass_arguments(ColorDataModule, "data", required=False, help="overrides, e.g. --data.root PATH")
    return parser


def option(args: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``args`` (jsonargparse has no parse_known_args)."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def without_options(args: list[str], names: tuple[str, ...]) -> list[str]:
    """``args`` less the options ``names`` and their values (``--name VALUE`` or ``--name=VALUE``)."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        elif arg.split("=", 1)[0] not in names:
            kept.append(arg)
    return kept


def datamodule_from(parser: ArgumentParser, args: list[str]) -> tuple[Any, ColorDataModule]:
    """Parse ``args`` with ``parser`` (from ``experiment_data_parser``): ``--config`` is read first and its
    ``data:`` section becomes the default of ``--data``. Returns (the parsed config, the DataModule)."""
    if any(a in ("-h", "--help") for a in args):
        parser.parse_args(["--help"])
    config = option(args, "--config")
    if config is None or not Path(config).is_file():
        parser.error(f"--config: experiment file not found: {config}")
    config_path = Path(config)
    experiment = yaml.safe_load(config_path.read_text()) or {}
    if "data" not in experiment:
        parser.error(f"{config_path} has no data: section")
    parser.set_defaults(data=experiment["data"])
    cfg = parser.parse_args(args)
    return cfg, parser.instantiate_classes(cfg).data


def options_of(cfg: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A parsed namespace as keyword arguments: jsonargparse's bookkeeping and ``skip`` left out."""
    return {k: v for k, v in vars(cfg).items() if k not in ("__path__", *skip)}

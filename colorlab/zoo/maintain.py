"""Adding, replacing and removing zoo models (``python -m colorlab.zoo``, for maintainers; see ``colorlab.zoo``).

``add`` turns a trained checkpoint into a zoo entry: it rebuilds the model from the checkpoint's net and
objective config with any ``pretrained`` switch off (so the zoo never needs a weight package or the hub), loads
the checkpoint's weights into it, stores them (weight matrices in float16, the rest in float32) as
``<name>.safetensors``, checks that the float16 round trip moves predictions by at most ``FP16_TOLERANCE``, and
writes the manifest entry: config, training resolution, results row, training data and command, size, sha256.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from colorlab import zoo
from colorlab.checkpoint import read as read_checkpoint
from colorlab.errors import ColorlabError


def _offline(net: dict[str, Any]) -> dict[str, Any]:
    """The net config with ImageNet weights switched off: the zoo file holds every weight."""
    net = copy.deepcopy(net)
    init = net.setdefault("init_args", {})
    if "pretrained" in init:
        init["pretrained"] = False
    if "weights" in init:
        init["weights"] = None
    return net


def read_row(path: str | os.PathLike, row: str | None = None) -> dict[str, Any]:
    """A results row from a JSON file holding one row (a dict) or a list of them (``report``'s rows.json;
    ``row`` picks one by its ``name``). It must hold ``ab_l1`` and ``ab_l2``."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, list):
        chosen = [r for r in data if row is None or r.get("name") == row]
        if len(chosen) != 1:
            found = ", ".join(str(r.get("name")) for r in data)
            raise ColorlabError(f"{path} holds rows {found}: pick one with --row NAME" if row is None
                             else f"{path} has no row named {row!r}; it has {found}")  # fmt: skip
        data = chosen[0]
    if not isinstance(data, dict) or not all(isinstance(data.get(k), (int, float)) for k in ("ab_l1", "ab_l2")):
        raise ColorlabError(f"{path}: a results row is a JSON object with numbers ab_l1 and ab_l2 (and top1, "
                         f"colorfulness_ratio, evaluated_on ...)")  # fmt: skip
    return data


def improves(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether results row ``new`` is better than ``old``: scored on the same images, no worse on any of
    ``RANKED_METRICS`` that both hold, and better on at least one."""
    if new.get("evaluated_on") != old.get("evaluated_on"):
        raise ColorlabError(f"the rows were scored on different images ({new.get('evaluated_on')!r} and "
                         f"{old.get('evaluated_on')!r}) and cannot be compared; remove the old model first")  # fmt: skip
    shared = [k for k in zoo.RANKED_METRICS if new.get(k) is not None and old.get(k) is not None]
    sign = {k: -1.0 if zoo.RANKED_METRICS[k] else 1.0 for k in shared}  # lower is better after the sign
    worse = any(sign[k] * new[k] > sign[k] * old[k] for k in shared)
    better = any(sign[k] * new[k] < sign[k] * old[k] for k in shared)
    return better and not worse


def _run_record(ckpt_path: Path) -> dict[str, Any]:
    """What the run folder (a checkpoint in <run>/checkpoints/) recorded: run.yaml's command, git state and device,
    config.yaml (its data root left out), if there."""
    run = ckpt_path.resolve().parent.parent
    record = yaml.safe_load((run / "run.yaml").read_text()) if (run / "run.yaml").is_file() else {}
    config = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else {}
    config = config or {}
    data = config.get("data")
    if isinstance(data, dict) and isinstance(data.get("init_args"), dict):
        data["init_args"].pop("root", None)  # where the data lay on the training machine says nothing here
    return {"command": " ".join(record.get("command", [])) or None, "git": record.get("git"),
            "device": record.get("device"), "data": data, "config": config or None}  # fmt: skip


def stored_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the zoo file holds: weight matrices (floating, 2+ dims) in float16, everything else as it is."""
    return {k: (v.half() if v.is_floating_point() and v.ndim >= 2 else v).contiguous() for k, v in state.items()}


@torch.no_grad()
def fp16_change(reference: torch.nn.Module, stored: torch.nn.Module, size: tuple[int, int]) -> dict[str, Any]:
    """Max and mean |ab/128| difference between two models' predictions on 8 procedural scenes at ``size``."""
    from colorlab import color
    from colorlab.data.procedural import ProceduralScenes

    scenes = ProceduralScenes(8, seed=0, size=size)
    rgb = torch.stack([scenes[i]["rgb"] for i in range(len(scenes))]).float() / 255.0  # (8, 3, H, W)
    x_l, _ = color.normalize(color.rgb_to_lab(rgb))
    for model in (reference, stored):
        if getattr(model.objective, "decoding", None) == "sample":  # random draws would differ anyway
            model.objective.set_decoding("annealed_mean")
    diff = (color.normalize(reference.colorize(x_l))[1] - color.normalize(stored.colorize(x_l))[1]).abs()
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()), "units": "ab/128",
            "images": f"colorlab.data.ProceduralScenes(8, seed=0, size={list(size)})", "tolerance": zoo.FP16_TOLERANCE}


def add(
    ckpt_path: str | os.PathLike,
    name: str,
    results_row: dict[str, Any],
    data: str | None = None,
    command: str | None = None,
    description: str | None = None,
    default: bool = False,
    root: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Add checkpoint ``ckpt_path`` to the zoo as ``name`` (or replace ``name`` with a better one).

    Args:
        ckpt_path: a LitColorizer checkpoint (read safely).
        name: the zoo name (letters, digits, ``-``, ``_``, ``.``).
        results_row: its scores (``read_row``): ab_l1, ab_l2, and where present top1, colorfulness_ratio,
            evaluated_on.
        data: what it was trained on, in words; default the run's config.yaml data section.
        command: the training command; default the run's run.yaml command, else the row's ``command``.
        description: what it is, one line for ``python -m colorlab models``; default net and objective class.
        default: make it the model ``colorize`` uses by default (the first model added is the default anyway).
        root: the zoo folder; default the package's.

    Returns:
        the manifest entry written.
    """
    from safetensors.torch import save_file

    from colorlab.network import build, load_weights

    root_dir = zoo._root(root)
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise ColorlabError(f"zoo names are letters, digits, '-', '_' and '.', got {name!r}")
    current = zoo.manifest(root_dir)
    if name in current["models"]:
        old = current["models"][name]["results"]
        if not improves(results_row, old):
            raise ColorlabError(f"zoo model {name} is replaced only by a better results row: the zoo's is "
                             f"{ {k: old.get(k) for k in zoo.RANKED_METRICS} }, the new one "
                             f"{ {k: results_row.get(k) for k in zoo.RANKED_METRICS} }")  # fmt: skip
    elif len(current["models"]) >= zoo.MAX_MODELS:
        raise ColorlabError(f"the zoo holds {len(current['models'])} models ({', '.join(current['models'])}), its limit; "
                         f"remove one first: python -m colorlab.zoo remove NAME")  # fmt: skip
    checkpoint = read_checkpoint(ckpt_path)
    hparams = checkpoint.get("hyper_parameters") or {}
    if not isinstance(hparams.get("net"), dict):
        raise TypeError(f"{ckpt_path}: its hyperparameters hold no net config (class_path + init_args)")
    config = {"net": _offline(hparams["net"])}
    if hparams.get("objective") is not None:
        config["objective"] = copy.deepcopy(hparams["objective"])
    train_resolution = (checkpoint.get("colorlab") or {}).get("train_resolution")
    if train_resolution is None:
        raise ColorlabError(f"{ckpt_path} records no training resolution; the zoo needs it for colorize's working size")

    # the offline config must build exactly the trained net (strict loading); nothing pretrained is fetched
    source = f"checkpoint {ckpt_path}"
    reference = build(config, source, train_resolution).eval()
    load_weights(reference, checkpoint["state_dict"])
    state = stored_state(reference.state_dict())
    with tempfile.TemporaryDirectory(dir=root_dir) as scratch:
        staged = Path(scratch) / f"{name}.safetensors"
        save_file(state, str(staged))
        size = staged.stat().st_size
        if size > zoo.MAX_BYTES:
            raise ColorlabError(f"{name}: {size / 1e6:.1f} MB in float16, above the zoo's {zoo.MAX_BYTES / 1e6:.0f} MB")
        from safetensors.torch import load_file

        stored = build(config, source, train_resolution).eval()
        stored.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in load_file(str(staged)).items()})
        check = fp16_change(reference, stored, tuple(train_resolution))
        if not check["max_abs_diff"] <= zoo.FP16_TOLERANCE:
            raise ColorlabError(f"{name}: float16 weights move predictions by up to {check['max_abs_diff']:.4f} ab/128, "
                             f"above the zoo's {zoo.FP16_TOLERANCE}; not added")  # fmt: skip
        staged.chmod(0o644)  # package data: readable by every user of an installation
        os.replace(staged, root_dir / f"{name}.safetensors")
    run = _run_record(Path(ckpt_path))
    found = {
        "file": f"{name}.safetensors",
        "sha256": zoo.sha256(root_dir / f"{name}.safetensors"),
        "size_bytes": size,
        "parameters": sum(p.numel() for p in reference.net.parameters()),
        "description": description,
        "model": config,
        "train_resolution": list(train_resolution),
        "results": results_row,
        "training": {"data": data or run["data"], "command": command or run["command"] or results_row.get("command"),
                     "git": run["git"], "device": run["device"], "checkpoint": Path(ckpt_path).name,
                     "config": run["config"]},  # the run's config.yaml: fit --config it to train the model again
        "fp16_check": check,
        "added": datetime.date.today().isoformat(),
    }  # fmt: skip
    current["models"][name] = found
    if default or current["default"] is None:
        current["default"] = name
    (root_dir / zoo.MANIFEST).write_text(json.dumps(current, indent=1) + "\n")
    return found


def remove(name: str, root: str | os.PathLike | None = None) -> None:
    """Remove zoo model ``name`` (file and entry); if it was the default, the first remaining model becomes it."""
    root_dir = zoo._root(root)
    current = zoo.manifest(root_dir)
    found = zoo.entry(name, root_dir)
    (root_dir / found["file"]).unlink(missing_ok=True)
    del current["models"][name]
    if current["default"] == name:
        current["default"] = next(iter(current["models"]), None)
    (root_dir / zoo.MANIFEST).write_text(json.dumps(current, indent=1) + "\n")

"""W&B sweeps without a server: each file in experiments/sweeps/ is turned into the exact argument list a
``wandb agent`` runs (wandb's own formatting code), which is run with WANDB_MODE=offline; the sampled
values must reach the model, optimizer and data module, and the offline run must hold config and metrics."""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path

import data_fixtures as fx
import pytest
import torch
import wandb
import yaml
from wandb.proto import wandb_internal_pb2
from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

from colorlab import color
from colorlab.cli import cli_main

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "experiments/sweeps").glob("*.yaml"))
FAST = ["--trainer.max_steps", "2", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--trainer.log_every_n_steps", "1", "--model.net.init_args.width", "4", "--data.init_args.num_workers", "0"]  # fmt: skip


def sample(parameters: dict, rng: random.Random) -> dict:
    """One configuration as W&B's random search draws it (distributions as documented for sweeps)."""
    values = {}
    for name, spec in parameters.items():
        if "value" in spec:
            values[name] = spec["value"]
        elif "values" in spec:
            values[name] = rng.choice(spec["values"])
        elif spec.get("distribution") == "log_uniform_values":
            values[name] = math.exp(rng.uniform(math.log(spec["min"]), math.log(spec["max"])))
        elif spec.get("distribution") in (None, "uniform"):
            values[name] = rng.uniform(spec["min"], spec["max"])
        else:
            raise AssertionError(f"{name}: distribution {spec['distribution']} not handled by this test")
    return values


def agent_command(sweep: dict, values: dict) -> list[str]:
    """What ``wandb agent`` executes for ``values``: wandb_agent.Agent._command_run's macro expansion."""
    sweep_vars = create_sweep_command_args({"args": {k: {"value": v} for k, v in values.items()}})
    sweep_vars.update(env=["/usr/bin/env"], interpreter=["python"], program=[sweep["program"]])
    command = []
    for chunk in create_sweep_command(list(sweep["command"])):
        command += sweep_vars[chunk[2:-1]] if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    return command


def test_sweep_files_are_valid_definitions():
    assert SWEEPS
    for path in SWEEPS:
        sweep = yaml.safe_load(path.read_text())
        assert sweep["method"] in ("random", "grid", "bayes") and sweep["metric"]["name"].startswith("val/")
        command = sweep["command"]
        assert command[:5] == ["${env}", "${interpreter}", "-m", "colorlab", "fit"] and command[-1] == "${args}"
        assert (ROOT / command[command.index("--config") + 1]).is_file()


@pytest.mark.slow
@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_agent_command_runs_offline_and_values_arrive(path, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.chdir(ROOT)  # the agent runs from the repository root
    sweep = yaml.safe_load(path.read_text())
    values = sample(sweep["parameters"], random.Random(0))
    command = agent_command(sweep, values)
    args = command[command.index("colorlab") + 1 :]
    print("agent command:", " ".join(command))
    assert [a for a in args if a.startswith("--model.optimizer")] == [
        f"--model.optimizer.init_args.lr={values['model.optimizer.init_args.lr']}"
    ]
    # local stand-ins for the two paths a user sets in the sweep file, then fast settings
    data_root = fx.make_tiny_imagenet(tmp_path / "data")[0]
    local = ["--data.init_args.root", str(data_root), "--trainer.default_root_dir", str(tmp_path / "runs")]
    prior = torch.rand(color.ab_bins().shape[0], dtype=torch.float64)
    prior /= prior.sum()
    if "model.objective.init_args.priors" in values:
        torch.save({"prior": prior}, tmp_path / "priors.pt")
        local += ["--model.objective.init_args.priors", str(tmp_path / "priors.pt")]
    cli = cli_main([*args, *local, *FAST])

    model, objective = cli.model, cli.model.objective
    assert cli.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(values["model.optimizer.init_args.lr"])
    assert objective.loss_name == values["model.objective.init_args.loss"]
    if "model.objective.init_args.temperature" in values:
        assert objective.temperature == values["model.objective.init_args.temperature"]
        lam, q = values["model.objective.init_args.lam"], prior.numel()
        w = 1 / ((1 - lam) * prior + lam / q)  # Zhang et al. 2016, eq. 4, scaled to E_p[w] = 1
        torch.testing.assert_close(objective.class_weights.double(), w / (prior * w).sum(), rtol=1e-6, atol=0)
    assert cli.datamodule.root == str(data_root)
    assert cli.trainer.max_epochs == values["trainer.max_epochs"]
    assert type(model.net).__name__ in ("UNet", "ResNetRegressor")

    wandb.teardown()  # waits for W&B's service process to write the run's last record and exit
    (run,) = (tmp_path / "runs/wandb").glob("offline-run-*/run-*.wandb")
    config, history = offline_run(run)
    assert config["model"]["optimizer"]["init_args"]["lr"] == pytest.approx(values["model.optimizer.init_args.lr"])
    assert config["run"]["git"]["commit"] and config["run"]["seed"] == 0
    assert {"train/loss", "val/ab_l1", "val/loss", "val/samples"} <= history  # metrics and the sample grid
    assert (Path(cli.trainer.log_dir) / "run.yaml").is_file()  # the local run folder is kept beside W&B


def offline_run(path: Path) -> tuple[dict, set[str]]:
    """(config, history keys) of a finished offline run.

    wandb (0.31) keeps an offline run only in its ``run-*.wandb`` log, written by its service process
    (``files/config.yaml`` and ``wandb-summary.json`` appear when the run is synced), and offers no public
    reader of that log: ``_records`` reads it."""
    records = _records(path)
    assert records[-1].WhichOneof("record_type") == "exit", "the run's log is incomplete"
    config, history = {}, set()
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            history |= {item.key or item.nested_key[0] for item in record.history.item}
    return config, history


def _records(path: Path) -> list:
    """The records of a ``run-*.wandb`` file: W&B's LevelDB-style log of protobuf records (7-byte file
    header; 32 KiB blocks of records with a 7-byte header: crc32, length, type)."""
    data, pos, pending, raws = path.read_bytes(), 7, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # block trailer too short for a header: padding
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + length > len(data):  # still being written
            break
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk  # FULL / FIRST start, MIDDLE / LAST extend
        if kind in (1, 4):
            raws.append(pending)
    records = [wandb_internal_pb2.Record() for _ in raws]
    for record, raw in zip(records, raws):
        record.ParseFromString(raw)
    return records

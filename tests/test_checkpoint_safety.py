"""Checkpoints are self-contained and loading one never runs code from it: weights_only unpickling, and
class names checked against colorlab's allow-list before anything is imported."""

import functools
import http.server
import os
import sys
import threading
from pathlib import Path

import lightning as L
import pytest
import torch

from colorlab import checkpoint
from colorlab.cli import cli_main
from colorlab.models import UNet
from colorlab.module import LitColorizer
from colorlab.objectives import Classification

ROOT = Path(__file__).resolve().parents[1]
FAST = [
    "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
    "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--trainer.logger", "false",
    "--model.net.init_args.width", "4",
    "--data.init_args.train_size", "8", "--data.init_args.val_size", "8", "--data.init_args.batch_size", "8",
]  # fmt: skip


def save(model: LitColorizer, path: Path) -> Path:
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_steps=0)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    return path


class RunsCode:
    """Unpickling this runs a shell command (the classic malicious-pickle payload)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def malicious(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "code_ran"
    good = torch.load(save(LitColorizer(functools.partial(UNet, width=4)), tmp_path / "good.ckpt"), weights_only=True)
    good["payload"] = RunsCode(marker)
    torch.save(good, tmp_path / "evil.ckpt")
    return tmp_path / "evil.ckpt", marker


@pytest.fixture
def foreign(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A checkpoint whose net class_path names a module on sys.path that writes a marker when imported."""
    marker = tmp_path / "imported"
    (tmp_path / "foreign_nets.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).touch()\nfrom colorlab.models import UNet as Net\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ckpt = torch.load(save(LitColorizer(functools.partial(UNet, width=4)), tmp_path / "good.ckpt"), weights_only=True)
    ckpt["hyper_parameters"]["net"]["class_path"] = "foreign_nets.Net"
    torch.save(ckpt, tmp_path / "foreign.ckpt")
    yield tmp_path / "foreign.ckpt", marker
    sys.modules.pop("foreign_nets", None)


def test_a_pickle_that_runs_code_is_refused_without_running(malicious, monkeypatch):
    path, marker = malicious
    # even when the environment asks torch for full unpickling, colorlab asks for weights_only itself
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(ValueError, match="refused to load"):
        LitColorizer.load_from_checkpoint(path)
    with pytest.raises(ValueError, match="refused to load"):
        cli_main(["colorize", "--ckpt_path", str(path), "--input", str(path)])
    assert not marker.exists()


def test_the_trainer_loads_a_checkpoint_url_weights_only(malicious, tmp_path, monkeypatch):
    """A ``--ckpt_path`` that is not a local file (a URL) is loaded by the trainer alone, and Lightning's
    default for http URLs is full unpickling: colorlab passes weights_only=True."""
    path, marker = malicious
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # where torch.hub caches the download
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(Exception, match="Weights only load failed"):
            cli_main(["fit", "--config", str(ROOT / "experiments/demo.yaml"), *FAST,
                      "--trainer.default_root_dir", str(tmp_path / "run"),
                      "--ckpt_path", f"http://127.0.0.1:{server.server_address[1]}/{path.name}"])  # fmt: skip
    finally:
        server.shutdown()
    assert not marker.exists()


def test_a_foreign_class_path_is_refused_before_import(foreign, monkeypatch):
    path, marker = foreign
    with pytest.raises(ValueError, match="foreign_nets.Net"):
        LitColorizer.load_from_checkpoint(path)
    with pytest.raises(ValueError, match="foreign_nets.Net"):
        cli_main(["validate", "--config", str(ROOT / "experiments/demo.yaml"), *FAST, "--ckpt_path", str(path)])
    assert not marker.exists() and "foreign_nets" not in sys.modules
    # the documented opt-in: the same file loads (and so imports the module) once its module is trusted
    monkeypatch.setenv(checkpoint.TRUST_ENV, "some.other, foreign_nets")
    assert isinstance(LitColorizer.load_from_checkpoint(path).net, UNet) and marker.exists()


def test_trusted_means_inside_a_whole_module_name():
    assert checkpoint.is_trusted("colorlab.models.UNet") and checkpoint.is_trusted("torch.optim.lr_scheduler.StepLR")
    assert checkpoint.is_trusted("timm.models.resnet.ResNet")
    for name in ("colorlab_evil.Net", "torch.nn.Linear", "os.system", "timm.create_model", "UNet"):
        assert not checkpoint.is_trusted(name), name
    # a bare string where a callable goes would be imported by jsonargparse as a dotted path
    with pytest.raises(ValueError, match="os.system"):
        checkpoint.check_class_paths({"net": "os.system"}, "x.ckpt")
    with pytest.raises(ValueError, match="builtins.eval"):
        checkpoint.check_class_paths({"objective": {"init_args": {"inner": [{"class_path": "builtins.eval"}]}}}, "x")


def test_no_standard_library_module_is_trusted(monkeypatch):
    """subprocess, os, sys, builtins, shutil, pickle ...: none may enter the allowlist (each could run code
    from a checkpoint's class names); nor any other top-level module than the three colorlab trusts."""
    monkeypatch.delenv(checkpoint.TRUST_ENV, raising=False)
    trusted = [name for name in sorted(sys.stdlib_module_names) if checkpoint.is_trusted(f"{name}.anything")]
    assert not trusted, f"trusted standard-library modules: {trusted}"
    assert {m.split(".")[0] for m in checkpoint.trusted_modules()} == {"colorlab", "torch", "timm"}
    for name in ("subprocess.Popen", "subprocess.run", "os.system", "builtins.exec", "importlib.import_module"):
        with pytest.raises(ValueError, match=name):
            checkpoint.check_class_paths({"net": {"class_path": name}}, "x.ckpt")


def test_a_model_built_in_python_saves_a_checkpoint_that_loads(tmp_path):
    model = LitColorizer(
        functools.partial(UNet, width=4, depth=1),
        Classification(decoding="mean", temperature=0.5),
        optimizer=functools.partial(torch.optim.SGD, lr=0.25),
    )
    loaded = LitColorizer.load_from_checkpoint(save(model, tmp_path / "m.ckpt"))
    assert isinstance(loaded.net, UNet) and loaded.state_dict().keys() == model.state_dict().keys()  # depth 1
    assert (loaded.objective.decoding, loaded.objective.temperature) == ("mean", 0.5)
    for a, b in zip(loaded.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    assert loaded.optimizer_factory([torch.nn.Parameter(torch.zeros(1))]).defaults["lr"] == 0.25


def test_every_objective_records_all_its_init_args():
    import inspect

    from colorlab.objectives import Regression

    for objective in (Regression(), Classification()):
        assert set(objective.init_args) == set(inspect.signature(type(objective)).parameters)


def test_a_model_that_cannot_be_named_is_refused_at_save_time(tmp_path):
    model = LitColorizer(lambda channels: UNet(channels, width=4))
    with pytest.raises(ValueError, match="functools.partial"):
        save(model, tmp_path / "lambda.ckpt")

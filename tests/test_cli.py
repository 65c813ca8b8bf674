"""The command line, called exactly as a user types it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from colorlab import color
from colorlab.cli import COMMANDS, cli_main
from colorlab.errors import ColorlabError
from colorlab.module import LitColorizer

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
FAST = [
    "--trainer.max_steps", "4", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
    "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--trainer.log_every_n_steps", "1",
    "--model.net.init_args.width", "4",
    "--data.init_args.train_size", "32", "--data.init_args.val_size", "8", "--data.init_args.batch_size", "8",
]  # fmt: skip


def fit(tmp_path: Path, *extra: str):
    return cli_main(["fit", "--config", str(ROOT / "experiments/demo.yaml"), *FAST,
                     "--trainer.default_root_dir", str(tmp_path),
                     *extra])  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fit")
    cli = fit(tmp)
    return cli, Path(cli.trainer.log_dir)


def test_fit_writes_checkpoints_config_metrics_and_samples(trained):
    cli, run = trained
    assert cli.trainer.global_step == 4
    assert (run / "config.yaml").is_file() and (run / "checkpoints/last.ckpt").is_file()
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["net"]["init_args"]["width"] == 4
    metrics = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/loss", "val/ab_l1", "val/ab_mse", "val/psnr", "val/accuracy"} <= set(metrics)
    assert (run / "samples/latest.png").is_file()


def test_checkpoint_alone_rebuilds_the_model(trained):
    cli, run = trained
    ckpt = torch.load(run / "checkpoints/last.ckpt", weights_only=False)
    assert torch.equal(ckpt["colorlab"]["ab_bins"], color.ab_bins())
    assert ckpt["colorlab"]["train_resolution"] == (64, 64)
    model = LitColorizer.load_from_checkpoint(run / "checkpoints/last.ckpt", map_location="cpu")
    model.eval()
    cli.model.eval()
    x_l = torch.rand(2, 1, 37, 53)  # any size: padded to the net's multiple, output at the input's size
    with torch.no_grad():
        assert torch.equal(model.colorize(x_l), cli.model.cpu().colorize(x_l))
    assert model.colorize(x_l).shape == (2, 3, 37, 53)


def test_resume_from_last_checkpoint(trained, tmp_path):
    _, run = trained
    cli = fit(tmp_path, "--trainer.max_steps", "6", "--ckpt_path", str(run / "checkpoints/last.ckpt"))
    assert cli.trainer.global_step == 6


def test_priors_command_feeds_rebalanced_training(tmp_path):
    out = cli_main(["priors", "--config", str(ROOT / "experiments/demo.yaml"), "--output", str(tmp_path / "p.pt"),
                    "--data.init_args.train_size", "16", "--data.init_args.batch_size", "8"])  # fmt: skip
    saved = torch.load(out, weights_only=True)
    assert saved["images"] == 16 and saved["counts"].sum() == 16 * 64 * 64
    assert torch.isclose(saved["prior"].sum(), torch.tensor(1.0, dtype=torch.float64))
    cli = fit(tmp_path, "--model.objective.init_args.priors", str(out))
    assert cli.model.objective.rebalance and not torch.all(cli.model.objective.class_weights == 1)
    # the checkpoint carries the priors' values, so it loads without the priors file
    ckpt = Path(cli.trainer.log_dir) / "checkpoints/last.ckpt"
    out.unlink()
    model = LitColorizer.load_from_checkpoint(ckpt, map_location="cpu")
    assert torch.allclose(model.objective.class_weights, cli.model.objective.class_weights.cpu())


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_every_experiment_parses_and_type_checks(experiment, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", "--config", str(experiment), "--print_config"])
    assert exit_.value.code in (None, 0)
    assert "class_path: colorlab." in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["fit", "--config", "no/such/file.yaml"], "no/such/file.yaml"),
        (["fit", "--config", "experiments/demo.yaml", "--model.net.init_args.widht", "8"], "widht"),
        (["fit", "--config", "experiments/demo.yaml", "--model.net.init_args.width", "wide"], "width"),
        (["fit", "--config", "experiments/demo.yaml", "--trainer.max_epochs", "many"], "max_epochs"),
        (["priors", "--config", "no/such/file.yaml"], "no/such/file.yaml"),
    ],
)
def test_bad_input_gets_a_message_not_a_traceback(args, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as exit_:
        cli_main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_user_errors_from_python_m_colorlab_are_one_line(tmp_path):
    """A mistake found after parsing (a bad value for a net) prints one line, exit code 2."""
    result = subprocess.run(
        [sys.executable, "-m", "colorlab", "fit", "--config", str(ROOT / "experiments/demo.yaml"),
         "--model.net.init_args.width", "0", "--trainer.default_root_dir", str(tmp_path)],
        check=False, capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "colorlab: error:" in result.stderr and "width" in result.stderr and "Traceback" not in result.stderr


# a real option of every command, which its --help must describe (a new command needs a line here)
HELP_FLAGS = {
    "fit": ["--trainer.max_epochs", "--model.net", "--ckpt_path"],
    "validate": ["--ckpt_path", "--data"],
    "test": ["--ckpt_path", "--data"],
    "predict": ["--ckpt_path", "--return_predictions"],
    "priors": ["--config", "--sigma", "--max_batches"],
    "demo": ["--config", "--output"],
    "evaluate": ["--ckpt_path", "--model", "--baseline_batches", "--prior_shift", "--split", "--name"],
    "report": ["--checkpoint", "--samples", "--reference", "--prior_shift"],
    "shards": ["--data", "--output_dir"],
    "colorize": ["--ckpt_path", "--model", "--input", "--temporal_smoothing", "--size"],
    "export": ["--ckpt_path", "--model", "--format", "--dynamic"],
    "models": ["--model NAME", "--model.init_weights"],
    "app": ["--model", "--ckpt_path", "--host", "--port", "--max_megapixels"],
}


@pytest.mark.parametrize(
    "raised, code, one_line",
    [("colorlab.errors.ColorlabError('--input: no such file')", 2, True),
     ("colorlab.errors.MissingFileError('checkpoint not found: x.ckpt')", 2, True),
     ("jsonargparse.ArgumentError(None, 'bad --size')", 2, True),
     ("TypeError('an internal mistake')", 1, False),
     ("KeyError('an internal mistake')", 1, False)],
)  # fmt: skip
def test_only_user_errors_become_one_line(raised, code, one_line):
    """``python -m colorlab`` prints colorlab's user errors and jsonargparse's as one line; a bug keeps its
    traceback."""
    script = ("import colorlab.errors, jsonargparse, colorlab.__main__ as entry\n"
              f"def fail(): raise {raised}\n"
              "entry.cli_main = fail\nentry.main()\n")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == code
    assert ("Traceback" not in result.stderr) == one_line
    if one_line:
        assert result.stderr.startswith("colorlab: error: ") and len(result.stderr.strip().splitlines()) == 1


def test_a_missing_experiments_folder_is_named(monkeypatch, tmp_path):
    """An installed package has no experiments/: commands that default to one say so and what to pass."""
    from colorlab import arguments

    monkeypatch.setattr(arguments, "EXPERIMENTS", tmp_path / "experiments")
    with pytest.raises(ColorlabError, match="--config"):
        cli_main(["demo"])


def test_help_lists_every_command(capsys):
    cli_main(["--help"])
    out = capsys.readouterr().out
    assert set(HELP_FLAGS) == set(COMMANDS)
    listed = [line.split()[0] for line in out.split("commands:")[1].splitlines() if line.startswith("  ")]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("command", list(HELP_FLAGS))
def test_every_command_has_help_with_its_options(command, capsys):
    try:
        cli_main([command, "--help"])
    except SystemExit as exit_:
        assert exit_.code in (None, 0)
    out = capsys.readouterr().out
    missing = [flag for flag in HELP_FLAGS[command] if flag not in out]
    assert not missing, f"{command} --help does not describe {missing}"


def test_demo_reports_on_the_test_split_beside_the_three_baselines(tmp_path, capsys):
    results = cli_main(["demo", "--output", str(tmp_path), *FAST, "--trainer.max_steps", "-1",
                        "--trainer.max_epochs", "1", "--data.init_args.test_size", "12"])  # fmt: skip
    run = Path(results["checkpoint"]).parents[1]
    assert (run / "demo_grid.png").is_file()
    saved = json.loads((run / "demo_metrics.json").read_text())
    assert saved["split"] == "test" and saved["images"] == 12
    rows = saved["results"]
    assert set(rows) == {"model", "baseline_grey", "baseline_mean_ab", "baseline_mode_bin"}
    assert {"ab_l1", "ab_mse", "psnr", "auc", "auc_rebal", "accuracy"} <= set(rows["model"]["metrics"])
    assert len(rows["model"]["rmse_per_image"]) == 12  # every test image, none of val's 8
    # the constants come from the training split, so their errors on the test split are real figures
    assert rows["baseline_grey"]["metrics"]["ab_l1"] > rows["baseline_mean_ab"]["metrics"]["ab_l1"] > 0
    assert saved["baselines"]["baseline_grey"] == [0.0, 0.0] and len(saved["baselines"]["baseline_mean_ab"]) == 2
    assert "the constant mean-ab predictor's" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_model_beats_every_baseline(tmp_path):
    """A short demo run must learn: ab L1 and MSE on the test split below all three constant predictions."""
    results = cli_main(["demo", "--output", str(tmp_path), *FAST, "--trainer.max_steps", "-1",
                        "--trainer.max_epochs", "2", "--model.net.init_args.width", "8",
                        "--data.init_args.train_size", "512", "--data.init_args.batch_size", "16",
                        "--data.init_args.test_size", "64"])  # fmt: skip
    rows = results["results"]
    for baseline in ("baseline_grey", "baseline_mean_ab", "baseline_mode_bin"):
        for key in ("ab_l1", "ab_mse"):
            assert rows["model"]["metrics"][key] < rows[baseline]["metrics"][key], (baseline, key)

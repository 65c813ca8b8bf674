"""The command line: ``python -m colorlab <command>``.

- ``fit``, ``validate``, ``test``, ``predict``: LightningCLI over LitColorizer and any colorlab DataModule,
  configured by an experiment YAML (``--config experiments/places_unet.yaml``), saving ``config.yaml`` per run.
- ``priors``: bin frequencies of an experiment's training split, for class rebalancing.
- ``demo``: train on the built-in procedural scenes, then report on its test split beside the three baselines.
- ``shards``: convert a dataset into LitData shards, for ``StreamingDataModule``.
- ``colorize``: photos, folders, globs and videos at full resolution with a checkpoint (``colorlab.infer``).
- ``export``: a checkpoint's network as ONNX or TorchScript with its contract (``colorlab.export``).
- ``models``: the model zoo shipped in the package (``colorlab.zoo``); ``--model NAME`` in place of
  ``--ckpt_path`` in colorize, evaluate, export, validate, test and predict.
- ``app``: a local web page to colorize photos (``colorlab.app``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml
from jsonargparse import ArgumentParser
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from colorlab import color, infer, ops, zoo
from colorlab.callbacks import SampleGrid, comparison_grid
from colorlab.checkpoint import read as read_checkpoint
from colorlab.data.base import ColorDataModule
from colorlab.evaluate import (
    TestBaselines,
    ab_statistics,
    baseline_constants,
    evaluate,
    evaluate_datasets,
    lab_batches,
    results_markdown,
)
from colorlab.module import LitColorizer
from colorlab.ops import AtomicCheckpointIO, NonFiniteLossGuard, RngState, RunRecord, quiet_known_warnings
from colorlab.report import find_run, write_report

REPO_EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


class ColorlabCLI(LightningCLI):
    """LightningCLI with colorlab's defaults.

    - Checkpoints (atomic writes): the best by ``val/ab_l1`` (``--checkpoint.*``), one every
      ``--step_checkpoint.every_n_train_steps`` (500) steps, and ``last.ckpt`` after either and at the end of
      training (``ops.LatestCheckpoint``); ``--ckpt_path last``
      resumes the newest ``last.ckpt`` under ``trainer.default_root_dir``, mid-epoch included.
    - Every run folder (``<default_root_dir>/lightning_logs/version_N``) holds ``config.yaml``, ``run.yaml``
      (git commit, dirty flag, package versions, seed), ``metrics.csv``, ``checkpoints/`` and ``samples/``;
      a W&B or TensorBoard logger chosen in YAML (``trainer.logger``) comes in addition to that folder.
    - A non-finite loss stops the run before its update; RNG states travel in checkpoints.
    """

    def __init__(self, args: list[str] | None = None, **kwargs: Any) -> None:
        quiet_known_warnings()
        super().__init__(
            LitColorizer,
            ColorDataModule,
            subclass_mode_data=True,
            save_config_callback=RunRecord,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,  # the optimizer is LitColorizer(optimizer=...)
            trainer_defaults={
                "callbacks": [SampleGrid(), infer.ColorizedWriter(), NonFiniteLossGuard(), RngState(), TestBaselines()],
            },
            args=args,
            **kwargs,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # both write last.ckpt (no -v1 copies): it is always the newer of the two
        parser.set_defaults({"checkpoint.monitor": "val/ab_l1", "checkpoint.mode": "min", "checkpoint.save_last": True,
                             "checkpoint.filename": "best-{epoch}", "checkpoint.enable_version_counter": False})
        parser.add_lightning_class_args(ops.LatestCheckpoint, "step_checkpoint")  # last.ckpt = the final state
        parser.set_defaults({"step_checkpoint.every_n_train_steps": 500, "step_checkpoint.save_top_k": 1,
                             "step_checkpoint.save_last": True, "step_checkpoint.filename": "{step}",
                             "step_checkpoint.enable_version_counter": False})  # fmt: skip

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        config.trainer.logger = ops.configure_loggers(
            config.trainer.logger, config.trainer.default_root_dir or ".", config.get("config")
        )

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # not one the user chose
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def after_fit(self) -> None:
        ops.finish_wandb(self.trainer)

    after_validate = after_test = after_predict = after_fit

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """A checkpoint named by ``--ckpt_path`` is read safely: ``colorlab.checkpoint.read`` checks it before
        LightningCLI reads its hyperparameters (which imports their class_paths), and the trainer's own load
        (``last`` too) is ``weights_only``. ``predict`` keeps nothing in memory: ColorizedWriter writes files."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand is None:
            return
        step = self.config[subcommand]
        if step.get("ckpt_path") == "last":
            step.ckpt_path = ops.newest_last_checkpoint(step.trainer.default_root_dir or ".")
        if step.get("ckpt_path"):
            if Path(step.ckpt_path).is_file():
                read_checkpoint(step.ckpt_path)
            step.weights_only = True
        if subcommand == "predict" and step.get("return_predictions") is None:
            step.return_predictions = False


# ------------------------------------------------------------------------------ priors
def _experiment_data_parser(prog: str, description: str) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=description, exit_on_error=True)
    parser.add_argument("--config", required=True, help="experiment YAML; its data: section is used")
    parser.add_subclass_arguments(ColorDataModule, "data", required=False, help="overrides, e.g. --data.root PATH")
    return parser


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``args`` (jsonargparse has no parse_known_args)."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _datamodule_from(parser: ArgumentParser, args: list[str]) -> tuple[Any, ColorDataModule]:
    """Read ``--config`` first, then take the experiment's ``data:`` section as the default for ``--data``."""
    if any(a in ("-h", "--help") for a in args):
        parser.parse_args(["--help"])
    config = _option(args, "--config")
    if config is None or not Path(config).is_file():
        parser.error(f"--config: experiment file not found: {config}")
    config_path = Path(config)
    experiment = yaml.safe_load(config_path.read_text()) or {}
    if "data" not in experiment:
        parser.error(f"{config_path} has no data: section")
    parser.set_defaults(data=experiment["data"])
    cfg = parser.parse_args(args)
    return cfg, parser.instantiate_classes(cfg).data


def _is_option_or_value(args: list[str], i: int, names: tuple[str, ...]) -> bool:
    return args[i] in names or args[i].split("=", 1)[0] in names or (i > 0 and args[i - 1] in names)


def priors_main(args: list[str]) -> Path:
    parser = _experiment_data_parser(
        "colorlab priors",
        "Count hard-quantised ab bins over an experiment's training split, smooth them with a Gaussian over the "
        "ab plane, and write a priors file for Classification(priors=...).",
    )
    parser.add_argument("--output", default=None, help="priors file to write (default priors/<config stem>.pt)")
    parser.add_argument("--sigma", type=float, default=color.SOFT_SIGMA, help="smoothing Gaussian width, Lab units")
    parser.add_argument("--max_batches", type=int | None, default=None, help="stop after this many batches")
    cfg, datamodule = _datamodule_from(parser, args)
    output = Path(cfg.output or f"priors/{Path(cfg.config).stem}.pt")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    datamodule.prepare_data()
    datamodule.setup("fit")
    statistics = ab_statistics(datamodule.train_dataloader(), device, cfg.max_batches)
    counts, images = statistics["counts"], statistics["images"]
    prior = color.smooth_prior(counts, cfg.sigma)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"prior": prior, "counts": counts.cpu(), "ab_bins": color.ab_bins(), "sigma": cfg.sigma,
         "images": images, "config": str(cfg.config)},
        output,
    )
    print(f"priors of {images} images ({int(counts.sum())} pixels, {int((counts > 0).sum())}/{counts.numel()} "
          f"bins seen) written to {output}\nuse it with: --model.objective.init_args.priors {output}")
    return output


# ------------------------------------------------------------------------------ demo
def demo_main(args: list[str]) -> dict[str, Any]:
    if any(a in ("-h", "--help") for a in args):
        print("usage: python -m colorlab demo [--config EXPERIMENT.yaml] [--output DIR] [fit options]\n\n"
              "Train the demo experiment (default experiments/demo.yaml) on the built-in procedural scenes, about\n"
              "1 minute on 2 CPU cores, then write a sample grid and the test split's metrics beside the three\n"
              "constant baselines (grey, training mean ab, most frequent training bin) under --output (default\n"
              "outputs/demo). Other options go to `fit`, e.g. --trainer.max_epochs 1.")
        return {}
    config = _option(args, "--config") or str(REPO_EXPERIMENTS / "demo.yaml")
    output = _option(args, "--output") or "outputs/demo"
    fit_args = [a for i, a in enumerate(args) if not _is_option_or_value(args, i, ("--config", "--output"))]

    cli = ColorlabCLI(["fit", "--config", config, "--trainer.default_root_dir", output, *fit_args])
    model, datamodule = cli.model, cli.datamodule
    best = cli.trainer.checkpoint_callback.best_model_path if cli.trainer.checkpoint_callback else ""
    if best:
        model = LitColorizer.load_from_checkpoint(best, map_location="cpu")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    statistics = ab_statistics(datamodule.train_dataloader(), device)
    baselines = baseline_constants(statistics)
    # Report on images that played no part in choosing the checkpoint (the best one is picked on val).
    if datamodule.test_set is None:
        datamodule.setup("test")
    if datamodule.test_set is None:
        raise ValueError(f"{type(datamodule).__name__} has no test split; demo reports on a test split")
    loader = datamodule.test_dataloader()
    results = evaluate({"model": model}, loader, baselines, color.smooth_prior(statistics["counts"]), device=device)
    run_dir = Path(cli.trainer.log_dir or output)
    lab = next(lab_batches(loader, device, desc="grid"))[:8]
    with torch.no_grad():
        comparison_grid(lab, model.colorize(color.normalize(lab)[0])).save(run_dir / "demo_grid.png")
    saved = {"split": "test", "images": len(datamodule.test_set), "checkpoint": best,
             "baselines": {name: ab.tolist() for name, ab in baselines.items()}, "results": results}  # fmt: skip
    (run_dir / "demo_metrics.json").write_text(json.dumps(saved, indent=1))
    print("\n" + results_markdown({f"test split ({len(datamodule.test_set)} images)": results}, {}))
    ours, const = results["model"]["metrics"]["ab_l1"], results["baseline_mean_ab"]["metrics"]["ab_l1"]
    change = 100 * (1 - ours / const)
    print(f"test ab L1 is {abs(change):.1f}% {'below' if change >= 0 else 'ABOVE'} the constant mean-ab predictor's")
    print(f"grid:    {run_dir / 'demo_grid.png'} (grayscale | prediction | ground truth)\n"
          f"metrics: {run_dir / 'demo_metrics.json'}\ncheckpoint: {best}")
    return saved


# ------------------------------------------------------------------------------ evaluate
EVALUATE_USAGE = """usage: python -m colorlab evaluate --ckpt_path A.ckpt [B.ckpt ...] [--model NAME ...] --config X.yaml [--data.* ...] [--split val|test|predict]
                                [--name NAME] [--config Y.yaml ... ] [--output DIR] [--max_batches N]
                                [--baseline_batches N] [--min_chroma C] [--decoding D] [--temperature T]
                                [--prior_shift S] [--device auto|cpu|cuda]

Evaluate checkpoints on one or more datasets, each beside the three constant baselines (grey, training mean ab,
most frequent training bin), and write one table of checkpoints x datasets as results.md, results.csv and
results.json under --output (default outputs/evaluate).

Each --config starts a dataset: the experiment YAML's data: section, then the options after it up to the next
--config: --data.* overrides (e.g. --data.root PATH, --data.init_args.batch_size 64), --split (default test; the
Tiny ImageNet and Places modules have only val; predict = every image the DataModule would colorize, e.g. a whole
folder of photos for a model trained on another dataset) and --name (default <config stem>/<split>).

  --ckpt_path FILE [FILE ...]  checkpoints to evaluate (safe loading: weights only, trusted classes)
  --model NAME [NAME ...]      zoo models to evaluate (python -m colorlab models)
  --output DIR                 where the tables go (default outputs/evaluate)
  --max_batches N              evaluate the first N batches of each split only
  --baseline_batches N         training batches the baselines are estimated from (default 100; 0 = all)
  --min_chroma C               leave out near-grayscale images (mean 8-bit max(R,G,B) - min(R,G,B) below C, e.g. 1)
                               from the evaluated splits and the baselines' statistics; the count is reported
  --decoding D, --temperature T  classifiers only: mode, mean, annealed_mean or sample, and the annealed-mean
                               temperature, in place of each checkpoint's saved ones
  --prior_shift S              classifiers trained with priors: decode logits - S * log(prior) (0: as trained)
  --device auto|cpu|cuda       default auto: cuda when available"""


def _evaluate_args(args: list[str]) -> tuple[dict[str, Any], list[list[str]]]:
    """Split ``evaluate``'s arguments into its own options and one argument list per ``--config`` dataset."""
    options: dict[str, Any] = {"ckpt_path": [], "model": [], "output": "outputs/evaluate", "max_batches": None,
                               "baseline_batches": 100, "device": "auto", "min_chroma": None,
                               "decoding": None, "temperature": None, "prior_shift": None}  # fmt: skip
    datasets: list[list[str]] = []
    i = 0
    while i < len(args):
        name, _, value = args[i].partition("=")
        key = name[2:] if name.startswith("--") else None
        if key in ("ckpt_path", "model"):
            values = [value] if value else []
            while not value and i + 1 < len(args) and not args[i + 1].startswith("--"):
                values.append(args[i + 1])
                i += 1
            options[key] += values
        elif key in ("output", "max_batches", "baseline_batches", "device", "min_chroma", "decoding", "temperature",
                     "prior_shift"):
            if not value:
                if i + 1 >= len(args):
                    raise ValueError(f"evaluate: {name} needs a value")
                value, i = args[i + 1], i + 1
            options[key] = value
        elif key == "config":
            datasets.append([args[i]] if value else [args[i], *args[i + 1 : i + 2]])
            i += 0 if value else 1
        elif datasets:
            datasets[-1].append(args[i])
        else:
            raise ValueError(f"evaluate: unexpected {args[i]!r} before the first --config (see --help)")
        i += 1
    numbers = {"max_batches": int, "baseline_batches": int, "min_chroma": float, "temperature": float,
               "prior_shift": float}
    for key, kind in numbers.items():
        if options[key] is not None:
            try:
                options[key] = kind(options[key])
            except ValueError:
                what = "an integer" if kind is int else "a number"
                raise ValueError(f"evaluate: --{key} must be {what}, got {options[key]!r}") from None
    if options["device"] not in ("auto", "cpu", "cuda"):
        raise ValueError(f"evaluate: --device must be auto, cpu or cuda, got {options['device']!r}")
    return options, datasets


def evaluate_main(args: list[str]) -> dict[str, Any]:
    if not args or any(a in ("-h", "--help") for a in args):
        print(EVALUATE_USAGE)
        return {}
    options, groups = _evaluate_args(args)
    if not options["ckpt_path"] and not options["model"]:
        raise ValueError("evaluate: give at least one checkpoint with --ckpt_path or zoo model with --model")
    if not groups:
        raise ValueError("evaluate: give at least one dataset with --config EXPERIMENT.yaml")
    datasets = []
    for group in groups:
        parser = _experiment_data_parser("colorlab evaluate", "one evaluate dataset (see evaluate --help)")
        parser.add_argument("--split", choices=["val", "test", "predict"], default="test")
        parser.add_argument("--name", default=None)
        cfg, datamodule = _datamodule_from(parser, group)
        name = cfg.name or f"{Path(cfg.config).stem}/{cfg.split}"
        if name in [d[0] for d in datasets]:
            raise ValueError(f"evaluate: two datasets are named {name!r}; tell them apart with --name")
        datasets.append((name, datamodule, cfg.split))
    device = options["device"] if options["device"] != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    checkpoints = [Path(p) for p in options["ckpt_path"]] + [zoo.checkpoint_file(n) for n in options["model"]]
    done = evaluate_datasets(
        checkpoints, datasets, Path(options["output"]), torch.device(device),
        options["max_batches"], options["baseline_batches"] or None, min_chroma=options["min_chroma"],
        decoding=options["decoding"], temperature=options["temperature"], prior_shift=options["prior_shift"],
    )
    print("\n" + done["paths"]["md"].read_text())
    print("written: " + ", ".join(str(p) for p in done["paths"].values()))
    return done


# ------------------------------------------------------------------------------ report
def report_main(args: list[str]) -> dict[str, Path]:
    runs = args[: next((i for i, a in enumerate(args) if a.startswith("-")), len(args))]  # run folders come first
    parser = _experiment_data_parser(
        "colorlab report RUN_DIR [RUN_DIR ...]",
        "A self-contained HTML page (index.html) and report.md comparing training runs (each a run folder "
        "lightning_logs/version_N, or a default_root_dir: its newest run) beside the three constant baselines: "
        "a metrics table, training/validation curves from the runs' metrics.csv, cumulative per-image RMSE and "
        "per-pixel error histograms, colourfulness bars, and the same sample images for every model. The runs "
        "are evaluated on --config's data (default: the first run's config.yaml), --split (default test).",
    )
    parser.add_argument("--output", default="outputs/report", help="folder for the page, its PNGs and tables")
    parser.add_argument("--split", choices=["val", "test"], default="test", help="split the runs are compared on")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best", help="which checkpoint of each run")
    parser.add_argument("--samples", type=int, default=6, help="sample images (rows) in samples.png")
    parser.add_argument("--max_batches", type=int | None, default=None, help="evaluate the first batches only")
    parser.add_argument("--baseline_batches", type=int | None, default=100,
                        help="training batches the baselines are estimated from (None: all)")  # fmt: skip
    parser.add_argument("--min_chroma", type=float | None, default=None,
                        help="leave out near-grayscale images (8-bit chroma spread below this, e.g. 1)")
    parser.add_argument("--reference", type=str | None, default=None,
                        help="JSON list of quoted rows (name, objective, ab_l1, ab_l2, top1, source) to show beside "
                             "the measured ones, e.g. docs/stanford_table1.json")  # fmt: skip
    parser.add_argument("--decoding", choices=["mode", "mean", "annealed_mean", "sample"], default=None,
                        help="classifiers: decoding in place of each checkpoint's saved one")
    parser.add_argument("--temperature", type=float | None, default=None,
                        help="classifiers: annealed-mean temperature in place of the saved one")
    parser.add_argument("--prior_shift", type=float | None, default=None,
                        help="classifiers trained with priors: decode logits - S * log(prior)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    rest = args[len(runs):]
    if any(a in ("-h", "--help") for a in rest) or not runs:
        parser.print_help()
        return {}
    if _option(rest, "--config") is None:
        rest = ["--config", str(find_run(Path(runs[0]))["config"]), *rest]
    cfg, datamodule = _datamodule_from(parser, rest)
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    paths = write_report([Path(r) for r in runs], datamodule, f"{type(datamodule).__name__}/{cfg.split}", cfg.split,
                         Path(cfg.output), torch.device(device), cfg.max_batches, cfg.baseline_batches,
                         cfg.samples, cfg.checkpoint, cfg.min_chroma, cfg.reference,
                         cfg.decoding, cfg.temperature, cfg.prior_shift)  # fmt: skip
    print(f"report: {paths['html']} (and {paths['md'].name}, {len(paths) - 2} tables and figures beside it)")
    return paths


# ------------------------------------------------------------------------------ shards
def shards_main(args: list[str]) -> dict[str, int]:
    from colorlab.data.images import ImageDataModule
    from colorlab.data.streaming import convert_to_shards

    parser = ArgumentParser(
        prog="colorlab shards",
        description="Convert an image DataModule's splits into LitData shards (progress bar), to train with "
        "--data colorlab.data.StreamingDataModule --data.root DIR_OR_URL.",
    )
    parser.add_subclass_arguments(ImageDataModule, "data", required=True)
    parser.add_function_arguments(convert_to_shards, skip={"source"})
    init = parser.instantiate_classes(parser.parse_args(args))
    options = {k: v for k, v in vars(init).items() if k not in ("data", "__path__")}
    written = convert_to_shards(init.data, **options)
    print(f"shards written to {options['output_dir']}: " + ", ".join(f"{k} {v} images" for k, v in written.items()))
    return written


# ------------------------------------------------------------------------------ colorize
def colorize_main(args: list[str]) -> infer.Summary:
    parser = ArgumentParser(
        prog="colorlab colorize",
        description="Colorize photos (a file, a folder searched recursively, or a glob) and videos at full "
        "resolution with a zoo model (default: the zoo's default) or a trained checkpoint. Exit status 1 if any input "
        "failed (the others are written).",
    )
    parser.add_function_arguments(infer.colorize, skip={"size"})
    parser.add_argument("--size", type=int, nargs="+", default=None,
                        help="model input size: S (shorter side, aspect kept) or H W; default the training resolution")
    options = {k: v for k, v in vars(parser.parse_args(args)).items() if k != "__path__"}
    summary = infer.colorize(**options)
    print(f"{options['output']}: {summary}")
    if summary.failed:
        raise SystemExit(1)
    return summary


# ------------------------------------------------------------------------------ export
def export_main(args: list[str]) -> dict[str, Any]:
    from colorlab.export import export

    parser = ArgumentParser(
        prog="colorlab export",
        description="Export a checkpoint's network (x_l -> ab) as ONNX or TorchScript, with its pre/post-processing "
        "contract in <output>.json, checked against PyTorch on a test image.",
    )
    parser.add_function_arguments(export, skip={"size"})
    parser.add_argument("--size", type=int, nargs=2, default=None, help="H W of a fixed-size export "
                        "(default: the training resolution)")
    options = {k: v for k, v in vars(parser.parse_args(args)).items() if k != "__path__"}
    info = export(**options)
    check = info["verified"]
    print(f"{info['output']} ({info['format']}, input {info['input']['shape']}; {info['sizes']}): matches PyTorch "
          f"within {check['max_abs_diff']:.1e} ab/128 (tolerance {check['tolerance']}) in {check['runtime']}; "
          f"contract in {info['output']}.json")
    return info


def models_main(args: list[str]) -> dict[str, Any]:
    return zoo.models_main(args)


def app_main(args: list[str]) -> None:
    from colorlab.app import app_main

    app_main(args)


COMMANDS: dict[str, tuple[Callable[[list[str]], Any], str]] = {
    "priors": (priors_main, "compute class-rebalancing priors over an experiment's training split"),
    "demo": (demo_main, "train on the built-in procedural scenes, report beside three constant baselines"),
    "evaluate": (evaluate_main, "checkpoints x datasets table beside the three baselines (Markdown, CSV, JSON)"),
    "report": (report_main, "HTML + Markdown report comparing runs: table, curves, histograms, samples"),
    "shards": (shards_main, "convert a dataset into LitData shards for streaming"),
    "colorize": (colorize_main, "colorize photos, folders and videos at full resolution (zoo model or checkpoint)"),
    "export": (export_main, "export a checkpoint's network as ONNX or TorchScript, checked against PyTorch"),
    "models": (models_main, "list the models shipped with colorlab (use one with --model NAME)"),
    "app": (app_main, "a local web page: upload photos, colorize them, download the results"),
}


def cli_main(args: list[str] | None = None) -> Any:
    """Entry point; ``args`` is the argument list exactly as a user types it after ``python -m colorlab``."""
    argv = sys.argv[1:] if args is None else list(args)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]][0](argv[1:])
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m colorlab <command> [--config EXPERIMENT.yaml] [options]\n\ncommands:")
        for name, text in [("fit", "train a model"), ("validate", "evaluate on the validation split"),
                           ("test", "evaluate on the test split"), ("predict", "colorize the predict split")]:
            print(f"  {name:<10}{text}")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<10}{text}")
        print("\n`python -m colorlab <command> --help` describes each command's options.")
        return None
    if argv[0] in ("validate", "test", "predict") and (zoo_args := zoo.checkpoint_args(argv)) is not None:
        args = argv = zoo_args  # --model NAME: the zoo model as a checkpoint
    return ColorlabCLI(None if args is None else argv)  # None: LightningCLI reads sys.argv itself

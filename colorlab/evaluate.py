"""Evaluation: checkpoints and the three trivial baselines, by the same metric code on the same images.

Every figure colorlab reports comes with three constant predictions beside it (the seed reports' published
rows sit within a few percent of such constants):

- ``baseline_grey``: ab = 0 everywhere (the grayscale input itself);
- ``baseline_mean_ab``: the training split's pixel-mean ab;
- ``baseline_mode_bin``: the centre of the training split's most frequent ab bin.

``python -m colorlab evaluate`` (``main``, options from ``evaluate_checkpoints``) writes the checkpoints x
datasets table as Markdown, CSV and JSON through ``evaluate_datasets`` / ``write_tables``.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from tqdm import tqdm

from colorlab import color
from colorlab.arguments import datamodule_from, experiment_data_parser, options_of
from colorlab.data.decoding import batch_chroma_spread
from colorlab.errors import ColorlabError, MissingFileError
from colorlab.machine import pick_device
from colorlab.metrics import METRIC_LABELS, classifier_metrics, colorization_metrics
from colorlab.module import LitColorizer
from colorlab.objectives import Classification

BASELINES = ("baseline_grey", "baseline_mean_ab", "baseline_mode_bin")
HEADLINE = ("ab_l1", "ab_mse", "psnr", "ssim", "bin_acc", "auc", "auc_rebal", "pa", "colorfulness_ratio")
"""The metrics of the summary table, in order; the full set is in the CSV and JSON."""
CLASSIFIER_HEADLINE = ("top1", "accuracy", "ce")
"""Classifiers' columns after ``HEADLINE`` (``classifier_metrics``)."""


def lab_batches(
    loader: Iterable,
    device: torch.device | str,
    limit: int | None = None,
    desc: str = "batches",
    min_chroma: float | None = None,
    tally: dict[str, int] | None = None,
) -> Iterator[torch.Tensor]:
    """Float32 Lab (B, 3, H, W) of each batch of a loader (up to ``limit`` batches), converted on ``device``,
    with a progress bar.

    Args:
        min_chroma: leave out the near-grayscale images, those whose ``chroma_spread`` (8-bit sRGB, as the
            DataModules' training filter) is below this: a grayscale photo has no colour to predict. A batch
            left empty is skipped.
        tally: if given, ``tally["images"]`` and ``tally["excluded"]`` count the images yielded and left out.
    """
    if min_chroma is not None and not 0 <= min_chroma <= 255:
        raise ColorlabError(f"min_chroma must be in [0, 255] (8-bit RGB spread), got {min_chroma}")
    tally = {} if tally is None else tally
    tally.setdefault("images", 0)
    tally.setdefault("excluded", 0)
    sizes = [n for n in (len(loader) if hasattr(loader, "__len__") else None, limit) if n is not None]
    total = min(sizes) if sizes else None  # for the progress bar
    for i, batch in enumerate(tqdm(loader, desc=desc, total=total, unit="batch", leave=False)):
        if limit is not None and i >= limit:
            break
        lab = color.batch_to_lab({k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)})
        if min_chroma is not None:
            rgb8 = batch["rgb"].to(device) if "rgb" in batch else (color.lab_to_rgb(lab) * 255).round().to(torch.uint8)
            keep = batch_chroma_spread(rgb8) >= min_chroma
            tally["excluded"] += int((~keep).sum())
            lab = lab[keep]
        tally["images"] += lab.shape[0]
        if lab.shape[0]:
            yield lab


@torch.no_grad()
def ab_statistics(
    loader: Iterable, device: torch.device | str = "cpu", limit: int | None = None, min_chroma: float | None = None
) -> dict[str, Any]:
    """One pass over (up to ``limit`` batches of) a loader: what the baselines and the rebalanced AuC need;
    ``min_chroma`` leaves out near-grayscale images (``lab_batches``).

    Returns:
        {"mean_ab": (2,) float32 pixel-weighted mean ab (Lab units), "counts": (Q,) float64 hard-quantised bin
        counts (``color.bin_counts``), "images": number of images}
    """
    total = torch.zeros(2, dtype=torch.float64, device=device)
    counts = torch.zeros(color.ab_bins().shape[0], dtype=torch.float64, device=device)
    images = 0
    for lab in lab_batches(loader, device, limit, "ab statistics", min_chroma):
        total += lab[:, 1:].sum(dim=(0, 2, 3)).double()
        counts += color.bin_counts(lab[:, 1:])
        images += lab.shape[0]
    if images == 0:
        raise ColorlabError("the loader yielded no images")
    return {"mean_ab": (total / counts.sum()).float().cpu(), "counts": counts.cpu(), "images": images}


def baseline_constants(statistics: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The three baselines' constant ab (2,), Lab units, from ``ab_statistics`` of a training split."""
    return {
        "baseline_grey": torch.zeros(2),
        "baseline_mean_ab": statistics["mean_ab"].float(),
        "baseline_mode_bin": color.ab_bins()[statistics["counts"].argmax()],
    }


class _Row:
    """The metrics of one predictor over a dataset: colour metrics for all, bin-distribution metrics for
    classifiers."""

    def __init__(self, predict, classifier: bool, prior: torch.Tensor | None, device: torch.device) -> None:
        self.predict = predict  # lab (B, 3, H, W) -> (lab_hat, logits or None)
        self.metrics = colorization_metrics("", prior).to(device)
        self.bin_metrics = classifier_metrics("").to(device) if classifier else None

    def update(self, lab: torch.Tensor) -> None:
        lab_hat, logits = self.predict(lab)
        self.metrics.update(lab_hat, lab)
        if self.bin_metrics is not None:
            self.bin_metrics.update(logits, lab[:, 1:])

    def result(self) -> dict[str, Any]:
        values = {k: float(v) for k, v in self.metrics.compute().items()}
        if self.bin_metrics is not None:
            values |= {k: float(v) for k, v in self.bin_metrics.compute().items()}
        hist = self.metrics["auc"].hist
        return {
            "metrics": values,
            "rmse_per_image": self.metrics["rmse"].distribution().tolist(),
            "pixel_error_cdf": (hist.cumsum(0)[:-1] / hist.sum()).tolist(),  # F(t), t = 0..150 Lab units
        }


def _model_predictor(model: LitColorizer):
    def predict(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x_l, _ = color.normalize(lab)
        out = model(x_l)
        lab_hat = color.denormalize(x_l, model.objective.decode(out, x_l.shape[-2:]))
        return lab_hat, out if isinstance(model.objective, Classification) else None

    return predict


def constant_predictor(ab: torch.Tensor):
    def predict(lab: torch.Tensor) -> tuple[torch.Tensor, None]:
        return torch.cat([lab[:, :1], ab.to(lab).view(1, 2, 1, 1).expand(lab.shape[0], 2, *lab.shape[2:])], 1), None

    return predict


@torch.no_grad()
def evaluate(
    models: Mapping[str, LitColorizer],
    loader: Iterable,
    baselines: Mapping[str, torch.Tensor],
    prior: torch.Tensor | None = None,
    limit: int | None = None,
    device: torch.device | str = "cpu",
    min_chroma: float | None = None,
    tally: dict[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every model and every constant baseline on the same batches, in one pass over the loader.

    Args:
        models: name -> LitColorizer (moved to ``device`` and put in eval mode).
        loader: batches in the colorlab batch contract.
        baselines: name -> constant ab (2,), Lab units (``baseline_constants``).
        prior: (Q,) bin prior for the class-rebalanced AuC (``auc_rebal``), the same for every row.
        limit: evaluate the first ``limit`` batches only.
        device: where models run and metrics accumulate.
        min_chroma: leave out the near-grayscale images (``lab_batches``; e.g. 1.0, as the training filter).
        tally: if given, counts the images evaluated and left out (``lab_batches``).

    Returns:
        name -> {"metrics": {key: value}, "rmse_per_image": [...], "pixel_error_cdf": [F(0), ..., F(150)]}
    """
    device = torch.device(device)
    rows: dict[str, _Row] = {}
    for name, model in models.items():
        model.to(device).eval()
        rows[name] = _Row(_model_predictor(model), isinstance(model.objective, Classification), prior, device)
    for name, ab in baselines.items():
        rows[name] = _Row(constant_predictor(ab), False, prior, device)
    for lab in lab_batches(loader, device, limit, "evaluate", min_chroma, tally):
        for row in rows.values():
            row.update(lab)
    return {name: row.result() for name, row in rows.items()}


# ------------------------------------------------------------------------------ tables
def _format(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table (first column left-aligned, the rest right-aligned)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def results_markdown(results: Mapping[str, Mapping[str, Mapping[str, Any]]], notes: Mapping[str, str]) -> str:
    """Markdown for ``{dataset: {predictor: result}}``: the summary of ``HEADLINE`` metrics, one table per
    dataset (rows: checkpoints then baselines), each dataset headed by its note."""
    parts = []
    for dataset, rows in results.items():
        keys = [k for k in HEADLINE if any(k in r["metrics"] for r in rows.values())]
        keys += [k for k in CLASSIFIER_HEADLINE if any(k in r["metrics"] for r in rows.values())]
        table = [[name] + [_format(r["metrics"].get(k)) for k in keys] for name, r in rows.items()]
        parts.append(f"### {dataset}\n\n{notes.get(dataset, '')}\n\n"
                     + markdown_table(["predictor"] + [METRIC_LABELS[k] for k in keys], table))  # fmt: skip
    return "\n\n".join(parts) + "\n"


def write_tables(
    results: Mapping[str, Mapping[str, Mapping[str, Any]]], output: Path, meta: Mapping[str, Any]
) -> dict[str, Path]:
    """Write ``{dataset: {predictor: result}}`` as ``results.md``, ``results.csv`` (one row per predictor and
    dataset, every metric a column) and ``results.json`` (everything, distributions and ``meta`` included)."""
    output.mkdir(parents=True, exist_ok=True)
    notes = {d: m.get("note", "") for d, m in meta.get("datasets", {}).items()}
    paths = {"md": output / "results.md", "csv": output / "results.csv", "json": output / "results.json"}
    paths["md"].write_text("# colorlab evaluate\n\n" + results_markdown(results, notes))
    keys = list(dict.fromkeys(k for rows in results.values() for r in rows.values() for k in r["metrics"]))
    with paths["csv"].open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["dataset", "predictor", *keys])
        for dataset, rows in results.items():
            for name, r in rows.items():
                writer.writerow([dataset, name, *(repr(r["metrics"][k]) if k in r["metrics"] else "" for k in keys)])
    paths["json"].write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    return paths


# ------------------------------------------------------------------------------ checkpoints x datasets
def shown_path(path: Path, output: Path, name: str) -> str:
    """How written tables and pages name a file: relative to the ``output`` folder they are written to (so the
    folder can be moved with the runs beside it, and no machine's absolute path is committed), or ``name``
    where the two share nothing but the file system's root."""
    path, output = Path(path).resolve(), Path(output).resolve()
    if Path(os.path.commonpath([path, output])) == Path(path.anchor):
        return name
    return Path(os.path.relpath(path, output)).as_posix()


def checkpoint_names(paths: list[Path]) -> list[str]:
    """Short distinct names for checkpoint files: the file stem, with as many parent folders as it takes to
    tell them apart (``version_0/best-epoch=2``); ``checkpoints`` and ``lightning_logs`` folders are left out."""
    parts = [[p for p in Path(path).with_suffix("").parts if p not in ("checkpoints", "lightning_logs")] for path in paths]
    for depth in range(1, max((len(p) for p in parts), default=1) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    raise ColorlabError(f"the same checkpoint was given twice: {[str(p) for p in paths]}")


def evaluate_datasets(
    checkpoints: list[Path],
    datasets: list[tuple[str, Any, str]],
    output: Path,
    device: torch.device | str = "cpu",
    max_batches: int | None = None,
    baseline_batches: int | None = 100,
    names: list[str] | None = None,
    min_chroma: float | None = None,
    decoding: color.Decoding | None = None,
    temperature: float | None = None,
    prior_shift: float | None = None,
) -> dict[str, Any]:
    """The ``evaluate`` command: every checkpoint and the three baselines on every dataset.

    Args:
        checkpoints: ``.ckpt`` files (loaded with ``LitColorizer.load_from_checkpoint``, which reads them safely).
        datasets: (name, DataModule, split) triples, split "val", "test" or "predict" (every image the DataModule
            would colorize, e.g. all of a folder of photos for a model trained elsewhere; the baselines still
            come from its training split).
        output: folder for results.md / .csv / .json.
        device: where models run.
        max_batches: evaluate the first batches of each split only.
        baseline_batches: training batches (shuffled, so a random sample) the baselines' constants and the
            rebalanced AuC's prior are estimated from; None = the whole training split.
        names: the checkpoints' row names; default ``checkpoint_names``.
        min_chroma: leave near-grayscale images out of the evaluated split and the baselines' statistics
            (``lab_batches``); their count is in the meta and the table's note.
        decoding, temperature, prior_shift: replace the classifiers' saved decoding (``Classification.set_decoding``);
            regression checkpoints are unaffected. Recorded in the meta.

    Returns:
        {"results": {dataset: {predictor: result}}, "meta": {...}, "paths": {"md", "csv", "json"},
        "models": {name: LitColorizer}}
    """
    for path in checkpoints:
        if not Path(path).is_file():
            raise MissingFileError(f"checkpoint not found: {path}")
    names = checkpoint_names(checkpoints) if names is None else names
    if len(names) != len(checkpoints) or len(set(names)) != len(names) or set(names) & set(BASELINES):
        raise ColorlabError(f"names must be {len(checkpoints)} distinct names other than the baselines', got {names}")
    models = {name: LitColorizer.load_from_checkpoint(path, map_location="cpu") for name, path in zip(names, checkpoints)}
    decodings = {}
    for name, model in models.items():
        if isinstance(model.objective, Classification):
            model.objective.set_decoding(decoding, temperature, prior_shift)
            decodings[name] = {"decoding": model.objective.decoding, "temperature": model.objective.temperature,
                               "prior_shift": model.objective.prior_shift}  # fmt: skip
    results: dict[str, Any] = {}
    meta: dict[str, Any] = {"checkpoints": {n: shown_path(p, output, n) for n, p in zip(models, checkpoints)},
                            "decoding": decodings,
                            "datasets": {}}  # fmt: skip
    for name, datamodule, split in datasets:
        if split not in ("val", "test", "predict"):
            raise ColorlabError(f"split must be 'val', 'test' or 'predict', got {split!r}")
        datamodule.prepare_data()
        datamodule.setup("fit")
        if split in ("test", "predict") and getattr(datamodule, f"{split}_set", None) is None:
            datamodule.setup(split)
        evaluated = getattr(datamodule, f"{split}_set", None)
        if evaluated is None:
            raise ColorlabError(f"{name}: {type(datamodule).__name__} has no {split} split (try --split val)")
        statistics = ab_statistics(datamodule.train_dataloader(), device, baseline_batches, min_chroma)
        baselines = baseline_constants(statistics)
        loader = getattr(datamodule, f"{split}_dataloader")()
        tally: dict[str, int] = {}
        prior = color.smooth_prior(statistics["counts"])
        results[name] = evaluate(models, loader, baselines, prior, max_batches, device, min_chroma, tally)
        images = tally["images"]
        excluded = "" if min_chroma is None else (
            f" ({tally['excluded']} near-grayscale images, chroma spread < {min_chroma:g}, left out)")
        meta["datasets"][name] = {
            "datamodule": type(datamodule).__name__, "root": str(getattr(datamodule, "root", None)), "split": split,
            "images": images, "excluded_grayscale": tally["excluded"], "min_chroma": min_chroma,
            "baseline_images": statistics["images"], "baselines": {k: v.tolist() for k, v in baselines.items()},
            "note": f"{type(datamodule).__name__} {split} split, {images} images{excluded}; baselines and the "
                    f"rebalanced AuC's prior from {statistics['images']} training images.",
        }  # fmt: skip
    return {"results": results, "meta": meta, "paths": write_tables(results, Path(output), meta), "models": models}


# ------------------------------------------------------------------------------ the command
def evaluate_checkpoints(
    datasets: list[tuple[str, Any, str]],
    ckpt_path: list[str],
    model: list[str] | None = None,
    output: str = "outputs/evaluate",
    max_batches: int | None = None,
    baseline_batches: int = 100,
    min_chroma: float | None = None,
    decoding: color.Decoding | None = None,
    temperature: float | None = None,
    prior_shift: float | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Evaluate checkpoints on one or more datasets, each beside the three constant baselines (grey, training
    mean ab, most frequent training bin), and write one table of checkpoints x datasets as results.md,
    results.csv and results.json under ``output``.

    Args:
        datasets: (name, DataModule, split) triples (``evaluate_datasets``); on the command line, one per
            ``--config``.
        ckpt_path: checkpoints to evaluate (safe loading: weights only, trusted classes).
        model: zoo models to evaluate (``python -m colorlab models``), beside or instead of checkpoints.
        output: where the tables go.
        max_batches: evaluate the first N batches of each split only.
        baseline_batches: training batches the baselines are estimated from (0 = all).
        min_chroma: leave out near-grayscale images (mean 8-bit max(R,G,B) - min(R,G,B) below this, e.g. 1) from
            the evaluated splits and the baselines' statistics; the count is reported.
        decoding: classifiers only: mode, mean, annealed_mean or sample, in place of each checkpoint's saved one.
        temperature: classifiers only: the annealed-mean temperature, in place of each checkpoint's saved one.
        prior_shift: classifiers trained with priors: decode logits - S * log(prior) (0: as trained).
        device: auto (CUDA if available), cpu, cuda, cuda:N.
    """
    where = pick_device(device)
    if model:
        from colorlab import zoo

        ckpt_path = [*ckpt_path, *(str(zoo.checkpoint_file(name)) for name in model)]
    if not ckpt_path:
        raise ColorlabError("evaluate: give at least one checkpoint with --ckpt_path or zoo model with --model")
    if not datasets:
        raise ColorlabError("evaluate: give at least one dataset with --config EXPERIMENT.yaml")
    return evaluate_datasets([Path(p) for p in ckpt_path], datasets, Path(output), where, max_batches,
                             baseline_batches or None, min_chroma=min_chroma, decoding=decoding,
                             temperature=temperature, prior_shift=prior_shift)  # fmt: skip


def evaluation_dataset(datamodule: Any, config: str, split: Literal["val", "test", "predict"] = "test",
                       name: str | None = None) -> tuple[str, Any, str]:  # fmt: skip
    """One dataset of ``evaluate``: the options after its ``--config``, up to the next ``--config``.

    Args:
        datamodule: the experiment's ``data:`` section with the ``--data.*`` overrides.
        config: the experiment YAML.
        split: test, val (Tiny ImageNet and Places have only val) or predict (every image the DataModule would
            colorize, e.g. a whole folder of photos for a model trained on another dataset).
        name: the dataset's name in the tables; default <config stem>/<split>.
    """
    return name or f"{Path(config).stem}/{split}", datamodule, split


def _dataset_parser():
    parser = experiment_data_parser("colorlab evaluate ...", evaluation_dataset.__doc__.split("\n\n")[0])
    parser.add_function_arguments(evaluation_dataset, skip={"datamodule", "config"})
    return parser


def main(args: list[str]) -> dict[str, Any]:
    """``python -m colorlab evaluate --ckpt_path A.ckpt [B.ckpt ...] --config X.yaml [--data.* ...] [--split S]
    [--name N] [--config Y.yaml ...] [options]``: the options of ``evaluate_checkpoints`` anywhere; every
    other option belongs to the ``--config`` before it (``evaluation_dataset``)."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(prog="colorlab evaluate", description=evaluate_checkpoints.__doc__.split("\n\n")[0]
                            + " --ckpt_path takes one or more files (--ckpt_path A.ckpt B.ckpt). Each --config "
                            "starts a dataset: its data: section, then the options after it up to the next --config "
                            "(below).")  # fmt: skip
    parser.add_function_arguments(evaluate_checkpoints, skip={"datasets"})
    if not args or any(a in ("-h", "--help") for a in args):
        parser.print_help()
        print("\none dataset (after each --config):")
        _dataset_parser().print_help()
        return {}
    own = [name for name in inspect.signature(evaluate_checkpoints).parameters if name != "datasets"]
    options, groups = _split_arguments(args, own)
    chosen = options_of(parser.parse_args(options))
    datasets = []
    for group in groups:
        cfg, datamodule = datamodule_from(_dataset_parser(), group)
        dataset = evaluation_dataset(datamodule, cfg.config, cfg.split, cfg.name)
        if dataset[0] in [d[0] for d in datasets]:
            raise ColorlabError(f"evaluate: two datasets are named {dataset[0]!r}; tell them apart with --name")
        datasets.append(dataset)
    done = evaluate_checkpoints(datasets, **chosen)
    print("\n" + done["paths"]["md"].read_text())
    print("written: " + ", ".join(str(p) for p in done["paths"].values()))
    return done


def _split_arguments(args: list[str], own: list[str]) -> tuple[list[str], list[list[str]]]:
    """``evaluate``'s own options (``--ckpt_path`` and ``--model`` take every value up to the next option) and one
    argument list per ``--config`` dataset."""
    options: list[str] = []
    lists: dict[str, list[str]] = {"ckpt_path": [], "model": []}
    groups: list[list[str]] = []
    i = 0
    while i < len(args):
        name, has_value, value = args[i].partition("=")
        key = name[2:] if name.startswith("--") else None
        if key in lists:
            if has_value:
                lists[key].append(value)
            while not has_value and i + 1 < len(args) and not args[i + 1].startswith("--"):
                lists[key].append(args[i + 1])
                i += 1
        elif key in own:
            options += [args[i]] if has_value else args[i : i + 2]
            i += 0 if has_value else 1
        elif key == "config":
            groups.append([args[i]] if has_value else args[i : i + 2])
            i += 0 if has_value else 1
        elif groups:
            groups[-1].append(args[i])
        else:
            raise ColorlabError(f"evaluate: unexpected {args[i]!r} before the first --config (see --help)")
        i += 1
    return options + [f"--{k}={json.dumps(v)}" for k, v in lists.items()], groups

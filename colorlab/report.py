"""``python -m colorlab report RUN_DIR ...``: one page comparing training runs, beside the three baselines.

Writes into the output folder (every link relative, so the folder can be moved or zipped):

- ``index.html`` (self-contained: inline style, no scripts, no network) and ``report.md``;
- ``results.md`` / ``.csv`` / ``.json``: every run's checkpoint and the baselines on the same images
  (``colorlab.evaluate.evaluate_datasets``);
- PNGs (matplotlib, drawn without pyplot so no GUI backend is touched): ``curves.png`` (training and validation
  curves from each run's ``metrics.csv``), ``rmse_cdf.png`` (cumulative per-image RMSE histogram, SRM review),
  ``pixel_error_cdf.png`` (cumulative per-pixel ab error: the curve under Zhang's AuC), ``colorfulness.png``
  and ``samples.png`` (the same images for every model: grayscale | each model | truth).
"""

from __future__ import annotations

import csv
import html
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from matplotlib.figure import Figure

from colorlab import checkpoint as checkpoint_io
from colorlab import color
from colorlab.arguments import datamodule_from, experiment_data_parser, option
from colorlab.errors import ColorlabError, MissingFileError
from colorlab.evaluate import (
    BASELINES,
    CLASSIFIER_HEADLINE,
    HEADLINE,
    checkpoint_names,
    evaluate_datasets,
    lab_batches,
    markdown_table,
    shown_path,
)
from colorlab.machine import pick_device
from colorlab.metrics import AUC_MAX_THRESHOLD, METRIC_LABELS

CURVES = ("train/loss", "val/loss", "val/ab_l1")
"""The metrics.csv columns plotted against the training step."""


def find_run(path: Path, checkpoint: str = "best") -> dict[str, Path]:
    """The files of one training run: ``path`` is a run folder (``.../lightning_logs/version_N``, holding
    ``config.yaml`` and ``metrics.csv``) or a ``default_root_dir`` (its newest ``lightning_logs/version_N``).

    Args:
        checkpoint: "best" (the ``best-*.ckpt`` ModelCheckpoint kept by ``val/ab_l1``, else ``last.ckpt``) or "last".

    Returns:
        {"dir", "config", "metrics", "checkpoint"}
    """
    path = Path(path)
    if not path.is_dir():
        raise MissingFileError(f"run folder not found: {path}")
    if not (path / "metrics.csv").is_file():
        versions = sorted((path / "lightning_logs").glob("version_*"), key=lambda p: int(p.name.split("_")[-1]))
        if not versions:
            raise MissingFileError(f"{path} holds no metrics.csv and no lightning_logs/version_*: not a run folder")
        path = versions[-1]
    if checkpoint not in ("best", "last"):
        raise ColorlabError(f"checkpoint must be 'best' or 'last', got {checkpoint!r}")
    best = sorted((path / "checkpoints").glob("best-*.ckpt")) if checkpoint == "best" else []
    ckpt = best[-1] if best else path / "checkpoints" / "last.ckpt"
    for needed in (path / "config.yaml", path / "metrics.csv", ckpt):
        if not needed.is_file():
            raise MissingFileError(f"run {path} has no {needed.relative_to(path)}")
    return {"dir": path, "config": path / "config.yaml", "metrics": path / "metrics.csv", "checkpoint": ckpt}


def run_summary(found: dict[str, Path], train_images: int | None = None) -> dict[str, Any]:
    """How one run was trained, from its checkpoint, ``config.yaml`` and ``run.yaml`` (``colorlab.callbacks.RunRecord``).

    Returns:
        {"train_minutes": wall-clock minutes of ``fit`` up to the checkpoint, validation during fit included
        (Lightning's Timer state, kept when ``trainer.max_time`` is set; else the checkpoint file's time minus
        the run's start), "train_minutes_source", "steps" (optimizer steps), "batch_size", "images_per_s"
        (steps x batch size / train seconds), "epochs" (steps x batch size / ``train_images``, when given),
        "device", "command"}; unknown values are None.
    """
    ckpt = checkpoint_io.read(found["checkpoint"])
    config = yaml.safe_load(found["config"].read_text()) or {}
    run_yaml = found["dir"] / "run.yaml"
    record = yaml.safe_load(run_yaml.read_text()) if run_yaml.is_file() else {}
    seconds = ckpt.get("callbacks", {}).get("Timer", {}).get("time_elapsed", {}).get("train")
    source = "Timer" if seconds else None
    if not seconds and record.get("started"):
        started = datetime.strptime(record["started"], "%Y-%m-%dT%H:%M:%S%z").timestamp()  # offset-aware
        seconds, source = found["checkpoint"].stat().st_mtime - started, "checkpoint time - run start"
    data = config.get("data") or {}
    batch = (data.get("init_args") or data).get("batch_size")
    steps = int(ckpt.get("global_step", 0))
    images = steps * batch if batch else None
    command = record.get("command")
    return {
        "train_minutes": seconds / 60 if seconds else None, "train_minutes_source": source, "steps": steps,
        "batch_size": batch, "images_per_s": images / seconds if images and seconds else None,
        "epochs": images / train_images if images and train_images else None, "device": record.get("device"),
        "command": " ".join(command) if isinstance(command, list) else command,
    }  # fmt: skip


def summary_rows(results: dict[str, dict[str, Any]], training: dict[str, dict[str, Any]], models: dict[str, Any],
                 reference: list[dict[str, Any]] = (), evaluated: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """One flat row per predictor (ab/128 units): name, objective (regression / classification / baseline /
    published), ab_l1, ab_l2 (mean squared error), top1 (classifiers: ``top1``, the argmax bin; others: the bin
    of the predicted ab, ``bin_acc``), auc, psnr, colorfulness_ratio, the run's training facts (``run_summary``)
    and ``evaluated`` (e.g. the dataset, split and image count); then the ``reference`` rows (quoted figures)
    as given."""
    rows = []
    for name, result in results.items():
        m = result["metrics"]
        objective = "baseline" if name in BASELINES else getattr(models[name].objective, "kind", None)
        rows.append({"name": name, "objective": objective, "ab_l1": m["ab_l1_n"], "ab_l2": m["ab_mse_n"],
                     "top1": m.get("top1", m["bin_acc"]), "auc": m["auc"], "psnr": m["psnr"],
                     "colorfulness_ratio": m["colorfulness_ratio"], **training.get(name, {}), **(evaluated or {})})  # fmt: skip
    return rows + [dict(r) for r in reference]


def read_metrics_csv(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Lightning CSVLogger output -> {column: (steps, values)} for every logged column, rows without it skipped."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    series = {}
    for key in (rows[0].keys() if rows else []):
        if key in ("epoch", "step"):
            continue
        points = [(float(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
        if points:
            steps, values = np.array(points).T
            series[key] = (steps, values)
    return series


# ------------------------------------------------------------------------------ plots
def plot_curves(runs: dict[str, Path], path: Path) -> Path:
    """``CURVES`` of every run against its training step, one panel per column."""
    fig = Figure(figsize=(4.2 * len(CURVES), 3.4), layout="constrained")
    axes = fig.subplots(1, len(CURVES))
    for name, metrics_csv in runs.items():
        series = read_metrics_csv(metrics_csv)
        for ax, key in zip(axes, CURVES):
            if key in series:
                steps, values = series[key]
                ax.plot(steps, values, marker="o" if len(steps) < 20 else None, markersize=3, label=name)
    for ax, key in zip(axes, CURVES):
        ax.set(title=key + (" (Lab)" if key.endswith("ab_l1") else ""), xlabel="training step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.savefig(path, dpi=100)
    return path


def plot_cdfs(results: dict[str, dict[str, Any]], rmse_path: Path, pixel_path: Path) -> tuple[Path, Path]:
    """Cumulative histograms of per-image RMSE and of per-pixel ab error, a line per predictor."""
    for path, title, xlabel in ((rmse_path, "per-image RMSE", "RMSE of the image's ab error (Lab)"),
                                (pixel_path, "per-pixel ab error (area = AuC)", "Euclidean ab error (Lab)")):  # fmt: skip
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.subplots()
        for name, result in results.items():
            style = "--" if name in BASELINES else "-"
            if path == rmse_path:
                values = np.sort(np.asarray(result["rmse_per_image"]))
                ax.step(values, np.arange(1, len(values) + 1) / len(values), style, where="post", label=name)
            else:
                ax.plot(np.arange(AUC_MAX_THRESHOLD + 1), result["pixel_error_cdf"], style, label=name)
        ax.set(title=title, xlabel=xlabel, ylabel="fraction at or below", ylim=(0, 1.01))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.savefig(path, dpi=100)
    return rmse_path, pixel_path


def plot_colorfulness(results: dict[str, dict[str, Any]], path: Path) -> Path:
    """Mean colourfulness (Hasler & Suesstrunk 2003) of each predictor's images beside the truth's."""
    names = [*results, "ground truth"]
    values = [r["metrics"]["colorfulness"] for r in results.values()]
    values.append(next(iter(results.values()))["metrics"]["colorfulness_true"])
    fig = Figure(figsize=(max(5, 1.1 * len(names)), 3.8), layout="constrained")
    ax = fig.subplots()
    bars = ax.bar(range(len(names)), values, color=["C1" if n in BASELINES else "C0" for n in results] + ["C2"])
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set(title="colourfulness (Hasler & Suesstrunk 2003, 0..255 sRGB)", ylabel="mean over images")
    fig.savefig(path, dpi=100)
    return path


def wrap_name(name: str, width: int = 24) -> str:
    """A run name as lines of at most ``width`` characters (a longer piece stays whole), broken after its
    ``/`` and ``_``, so sample-grid titles stay within their column."""
    lines = [""]
    for piece in re.split(r"(?<=[/_])", name):
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(lines)


@torch.no_grad()
def plot_samples(models: dict[str, Any], loader: Any, n: int, device: torch.device | str, path: Path,
                 min_chroma: float | None = None) -> Path:  # fmt: skip
    """The first ``n`` images of ``loader`` (those with colour, given ``min_chroma``: ``lab_batches``): a row
    each, columns grayscale | each model | ground truth."""
    labs = []
    for lab in lab_batches(loader, device, desc="samples", min_chroma=min_chroma):
        labs.append(lab)
        if sum(x.shape[0] for x in labs) >= n:
            break
    lab = torch.cat(labs)[:n]
    x_l, _ = color.normalize(lab)
    columns = {"grayscale": torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], dim=1)}
    columns |= {name: model.to(device).eval().colorize(x_l) for name, model in models.items()}
    columns["ground truth"] = lab
    images = {k: color.lab_to_rgb(v).permute(0, 2, 3, 1).cpu().numpy() for k, v in columns.items()}  # (n, H, W, 3)
    fig = Figure(figsize=(1.6 * len(columns), 1.6 * lab.shape[0] + 0.4), layout="constrained")
    axes = np.asarray(fig.subplots(lab.shape[0], len(columns), squeeze=False))
    for j, (name, rgb) in enumerate(images.items()):
        axes[0, j].set_title(wrap_name(name), fontsize=7)
        for i in range(lab.shape[0]):
            axes[i, j].imshow(rgb[i], interpolation="nearest")
            axes[i, j].set_axis_off()
    fig.savefig(path, dpi=100)
    return path


# ------------------------------------------------------------------------------ the page
TRAINING_COLUMNS = (("train_minutes", "train min", ".1f"), ("steps", "steps", "d"), ("epochs", "epochs", ".2f"),
                    ("images_per_s", "images/s", ".1f"))  # fmt: skip


def _table_rows(results: dict[str, dict[str, Any]], training: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    keys = [k for k in (*HEADLINE, *CLASSIFIER_HEADLINE) if any(k in r["metrics"] for r in results.values())]
    cell = lambda value, spec: "" if value is None else format(value, spec)
    rows = [[name] + [f"{r['metrics'][k]:.4g}" if k in r["metrics"] else "" for k in keys]
            + [cell(training.get(name, {}).get(k), spec) for k, _, spec in TRAINING_COLUMNS]
            for name, r in results.items()]  # fmt: skip
    return ["predictor"] + [METRIC_LABELS[k] for k in keys] + [label for _, label, _ in TRAINING_COLUMNS], rows


def _reference_table(reference: list[dict[str, Any]]) -> str:
    """The quoted rows (``--reference``), ab/128 units, as given."""
    keys = [k for k in ("ab_l1", "ab_l2", "top1") if any(k in r for r in reference)]
    rows = [[r["name"]] + ["" if r.get(k) is None else f"{r[k]:.4g}" for k in keys] + [r.get("source", "")]
            for r in reference]  # fmt: skip
    return markdown_table(["quoted row", *keys, "source"], rows)


FIGURES = (
    ("curves", "Training and validation curves (each run's metrics.csv)"),
    ("rmse_cdf", "Cumulative histogram of per-image RMSE"),
    ("pixel_error_cdf", "Cumulative histogram of per-pixel ab error (its normalised area is the AuC)"),
    ("colorfulness", "Colourfulness of the predictions and of the truth"),
    ("samples", "The same images for every model: grayscale | each model | ground truth"),
)

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:0.3em 0.6em}"
         "td{text-align:right}td:first-child,th:first-child{text-align:left}tr.baseline{color:#777}"
         "img{max-width:100%;border:1px solid #eee}code{background:#f4f4f4;padding:0 0.2em}")  # fmt: skip


def write_report(
    runs: list[Path],
    datamodule: Any,
    dataset: str,
    split: str,
    output: Path,
    device: torch.device | str = "cpu",
    max_batches: int | None = None,
    baseline_batches: int | None = 100,
    samples: int = 6,
    checkpoint: str = "best",
    min_chroma: float | None = None,
    reference: Path | None = None,
    decoding: color.Decoding | None = None,
    temperature: float | None = None,
    prior_shift: float | None = None,
) -> dict[str, Path]:
    """Build the report for ``runs`` (run folders, see ``find_run``) evaluated on ``datamodule``'s ``split``.

    ``decoding``, ``temperature``, ``prior_shift``: replace the classifiers' saved decoding, as in ``evaluate``.

    ``reference``: a JSON list of quoted rows (e.g. a paper's table: ``name``, ``objective: "published"``,
    ``ab_l1``, ``ab_l2``, ``top1`` in ab/128 units, ``source``), shown in their own table and added to rows.json.

    Returns:
        {"html", "md", "results_md", "results_csv", "results_json", "rows", and one entry per figure}
    """
    quoted = json.loads(Path(reference).read_text()) if reference is not None else []
    if not isinstance(quoted, list) or not all(isinstance(r, dict) and "name" in r for r in quoted):
        raise ColorlabError(f"--reference {reference}: expected a JSON list of rows, each with a name")
    found = [find_run(Path(r), checkpoint) for r in runs]
    names = checkpoint_names([f["dir"] for f in found])
    output = Path(output)
    done = evaluate_datasets([f["checkpoint"] for f in found], [(dataset, datamodule, split)], output, device,
                             max_batches, baseline_batches, names=names, min_chroma=min_chroma,
                             decoding=decoding, temperature=temperature, prior_shift=prior_shift)  # fmt: skip
    results = done["results"][dataset]
    paths = {f"results_{k}": v for k, v in done["paths"].items()}
    train_set = getattr(datamodule, "train_set", None)
    training = {n: run_summary(f, len(train_set) if train_set is not None else None) for n, f in zip(names, found)}
    paths["rows"] = output / "rows.json"
    meta = done["meta"]["datasets"][dataset]
    evaluated = {"evaluated_on": f"{dataset} ({split})", "evaluated_images": meta["images"]}
    paths["rows"].write_text(json.dumps(summary_rows(results, training, done["models"], quoted, evaluated), indent=1) + "\n")
    figures = {
        "curves": plot_curves({n: f["metrics"] for n, f in zip(names, found)}, output / "curves.png"),
        "colorfulness": plot_colorfulness(results, output / "colorfulness.png"),
    }
    figures["rmse_cdf"], figures["pixel_error_cdf"] = plot_cdfs(results, output / "rmse_cdf.png", output / "pixel_error_cdf.png")
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    figures["samples"] = plot_samples(done["models"], loader, samples, device, output / "samples.png", min_chroma)
    note = done["meta"]["datasets"][dataset]["note"]
    header, rows = _table_rows(results, training)
    shown = [shown_path(f["dir"], output, n) for n, f in zip(names, found)]  # relative: no absolute paths
    run_lines = [f"- `{n}`: `{where}` (checkpoint `{f['checkpoint'].name}`)" for n, where, f in zip(names, shown, found)]

    md = [f"# colorlab report\n\nEvaluated on **{dataset}**: {note}\n", *run_lines, "",
          markdown_table(header, rows), "", *([_reference_table(quoted), ""] if quoted else []),
          ("Files: [results.md](results.md), [results.csv](results.csv), [results.json](results.json), "
           "[rows.json](rows.json)."), ""]  # fmt: skip
    md += [f"## {title}\n\n![{key}]({figures[key].name})\n" for key, title in FIGURES]
    paths["md"] = output / "report.md"
    paths["md"].write_text("\n".join(md))

    cells = lambda row, tag: "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row)
    table = "<table><tr>" + cells(header, "th") + "</tr>" + "".join(
        f'<tr{" class=baseline" if row[0] in BASELINES else ""}>{cells(row, "td")}</tr>' for row in rows) + "</table>"
    body = [f"<h1>colorlab report</h1><p>Evaluated on <b>{html.escape(dataset)}</b>: {html.escape(note)}</p>",
            "<ul>" + "".join(f"<li><code>{html.escape(n)}</code>: <code>{html.escape(where)}</code> "
                             f"(checkpoint <code>{html.escape(f['checkpoint'].name)}</code>)</li>"
                             for n, where, f in zip(names, shown, found)) + "</ul>",
            table]
    if quoted:
        keys = [k for k in ("ab_l1", "ab_l2", "top1") if any(k in r for r in quoted)]
        body.append("<h2>Quoted rows</h2><table><tr>" + cells(["quoted row", *keys, "source"], "th") + "</tr>" + "".join(
            "<tr>" + cells([r["name"], *("" if r.get(k) is None else f"{r[k]:.4g}" for k in keys), r.get("source", "")],
                           "td") + "</tr>" for r in quoted) + "</table>")  # fmt: skip
    body.append('<p>Files: <a href="results.md">results.md</a>, <a href="results.csv">results.csv</a>, '
                '<a href="results.json">results.json</a>, <a href="rows.json">rows.json</a>, '
                '<a href="report.md">report.md</a>.</p>')  # fmt: skip
    body += [f'<h2>{html.escape(title)}</h2><a href="{figures[key].name}"><img src="{figures[key].name}" '
             f'alt="{key}"></a>' for key, title in FIGURES]  # fmt: skip
    paths["html"] = output / "index.html"
    paths["html"].write_text(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>colorlab report'
                             f"</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")  # fmt: skip
    return paths | figures


# ------------------------------------------------------------------------------ the command
def report(
    runs: list[str],
    datamodule: Any,
    output: str = "outputs/report",
    split: Literal["val", "test"] = "test",
    checkpoint: Literal["best", "last"] = "best",
    samples: int = 6,
    max_batches: int | None = None,
    baseline_batches: int | None = 100,
    min_chroma: float | None = None,
    reference: str | None = None,
    decoding: color.Decoding | None = None,
    temperature: float | None = None,
    prior_shift: float | None = None,
    device: str = "auto",
) -> dict[str, Path]:
    """A self-contained HTML page (index.html) and report.md comparing training runs (each a run folder
    lightning_logs/version_N, or a default_root_dir: its newest run) beside the three constant baselines: a
    metrics table, training/validation curves from the runs' metrics.csv, cumulative per-image RMSE and per-pixel
    error histograms, colourfulness bars, and the same sample images for every model. The runs are evaluated on
    --config's data (default: the first run's config.yaml).

    Args:
        runs: run folders (on the command line: first, before any option).
        datamodule: the data the runs are compared on.
        output: folder for the page, its PNGs and tables.
        split: split the runs are compared on.
        checkpoint: which checkpoint of each run.
        samples: sample images (rows) in samples.png.
        max_batches: evaluate the first batches only.
        baseline_batches: training batches the baselines are estimated from (None: all).
        min_chroma: leave out near-grayscale images (8-bit chroma spread below this, e.g. 1).
        reference: JSON list of quoted rows (name, objective, ab_l1, ab_l2, top1, source) to show beside the
            measured ones, e.g. docs/stanford_table1.json.
        decoding: classifiers: decoding in place of each checkpoint's saved one.
        temperature: classifiers: annealed-mean temperature in place of the saved one.
        prior_shift: classifiers trained with priors: decode logits - S * log(prior).
        device: auto (CUDA if available), cpu, cuda, cuda:N.
    """
    where = pick_device(device)
    return write_report([Path(r) for r in runs], datamodule, f"{type(datamodule).__name__}/{split}", split,
                        Path(output), where, max_batches, baseline_batches, samples, checkpoint, min_chroma,
                        reference, decoding, temperature, prior_shift)  # fmt: skip


def main(args: list[str]) -> dict[str, Path]:
    """``python -m colorlab report RUN_DIR [RUN_DIR ...] [--config X.yaml] [--data.* ...] [options]``."""
    runs = args[: next((i for i, a in enumerate(args) if a.startswith("-")), len(args))]  # run folders come first
    parser = experiment_data_parser("colorlab report RUN_DIR [RUN_DIR ...]", report.__doc__.split("\n\n")[0])
    parser.add_function_arguments(report, skip={"runs", "datamodule"})
    rest = args[len(runs) :]
    if any(a in ("-h", "--help") for a in rest) or not runs:
        parser.print_help()
        return {}
    if option(rest, "--config") is None:
        rest = ["--config", str(find_run(Path(runs[0]))["config"]), *rest]
    cfg, datamodule = datamodule_from(parser, rest)
    chosen = {k: v for k, v in vars(cfg).items() if k not in ("__path__", "config", "data")}
    paths = report(runs, datamodule, **chosen)
    print(f"report: {paths['html']} (and {paths['md'].name}, {len(paths) - 2} tables and figures beside it)")
    return paths

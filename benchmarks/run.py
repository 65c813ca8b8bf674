"""``make bench``: run the benchmarks, each measuring colorlab against what users would otherwise run, side by
side in one process run, and write ``benchmarks/results.json`` and ``benchmarks/results.md`` (with the machine
each benchmark was measured on: a partial run keeps the others' figures and machines).

    .venv/bin/python benchmarks/run.py                          # all of them (a few minutes on 2 idle cores)
    .venv/bin/python benchmarks/run.py soft_encode loss_memory  # some; the others' figures are kept

Each benchmark is a script here with a ``run() -> dict``; run one alone with ``.venv/bin/python benchmarks/<name>.py``.
The benchmark process runs PyTorch on one thread (``torch.set_num_threads(1)``, data workers are processes):
on a machine shared with other work, two intra-op threads on two cores wait on each other (several times
slower, and erratic), and one thread gives both sides of each ratio the same footing.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from common import machine

BENCHMARKS = ["color_conversion", "soft_encode", "loss_memory", "data_pipeline", "procedural_speed",
              "training_step", "demo_speed", "zoo_speed"]
RESULTS_JSON, RESULTS_MD = HERE / "results.json", HERE / "results.md"
NO_GPU = "skipped: no GPU on this machine"

# headline key -> (what it is, target, does the measured value meet it)
TARGETS = {
    "data_pipeline_speedup": (
        ("Tiny ImageNet DataModule to a training-ready (L, ab) batch vs ImageFolder + per-image skimage, "
        "best worker count"), ">= 3x", lambda v, r: v >= 3),
    "lab_max_error": ("device-side Lab vs skimage.color.rgb2lab, Lab units", "<= 1e-3", lambda v, r: v <= 1e-3),
    "soft_encode_speedup": (
        ("soft-encoding vs sklearn NearestNeighbors (ball tree, Zhang's reference), 32,768 px, k = 10, "
        "one thread each"), ">= 25x", lambda v, r: v >= 25),  # a guard against regressions (measured: 28x)
    "soft_encode_identical_fraction": ("pixels with the same neighbour set as sklearn", "1.0", lambda v, r: v == 1.0),
    "lightning_overhead": ("LitColorizer under Lightning / hand-written loop, worst architecture", "<= 1.05",
                           lambda v, r: v <= 1.05),
    "cls_loss_peak_mb": (
        ("peak extra memory of soft-encoding + loss forward + backward (MB, batch 4; dense_target_mb = the "
        "logits' size)"), "<= 1.5 x dense_target_mb", lambda v, r: v <= 1.5 * r["dense_target_mb"]),
    "dense_target_mb": ("a dense float32 (B, Q, H, W) target = the logits' size (MB, U-Net 256 px, batch 4)",
                        "reference", None),
    "cli_help_seconds": ("`python -m colorlab --help`, wall clock, one core", "<= 2 s", lambda v, r: v <= 2),
    "colorize_12mp_seconds": (("`colorize` of one 4000 x 3000 JPEG with the default zoo model, wall clock with "
                               "start-up, one core"), "<= 5 s", lambda v, r: v <= 5),
    "app_12mp_seconds": ("the app's answer to a 12-megapixel JPEG upload (upload to both result files), one core",
                         "<= 6 s", lambda v, r: isinstance(v, float) and v <= 6),
}


def _machine_line(m: dict) -> str:
    load = m["load_average_1min"]
    return (f"{m['cores']} cores, {m['cpu_model']}, torch {m['torch_version']}, GPU: {m['gpu']}; load average {load} "
            "when it finished" + (" (above the core count: the machine was shared with other work, so absolute figures "
            "are lower than on an idle machine; ratios compare both sides under the same load)" if load > m["cores"]
            else " (the benchmark's own core and up to one more busy: other work shared the machine, not the "
            "benchmark's core)" if load > 1.3 else " (an otherwise idle machine)"))  # fmt: skip


def markdown(results: dict) -> str:
    groups: dict[str, list[str]] = {}  # machine line -> the benchmarks measured there
    for name, m in results["machines"].items():
        groups.setdefault(_machine_line(m), []).append(name)
    lines = [
        "# colorlab benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python benchmarks/run.py`); every ratio is measured side by side in",
        "one run on one machine. Reproduce one part with `.venv/bin/python benchmarks/run.py NAME`",
        f"(NAME in {', '.join(BENCHMARKS)}); each script's docstring says exactly what it compares.",
        "",
        *(f"Machine of {', '.join(names)}: {line}." for line, names in groups.items()),
        "PyTorch ran on one thread in the benchmark process.",
        "",
        "| figure | value | target | met |",
        "|---|---|---|---|",
    ]
    for key, (what, target, check) in TARGETS.items():
        if key in results:
            met = "" if check is None else ("yes" if check(results[key], results) else "**no**")
            lines.append(f"| `{key}`: {what} | {results[key]} | {target} | {met} |")
    lines += ["", f"GPU: {results['gpu']}", ""]
    for key, value in results.items():
        if isinstance(value, dict) and key != "machines":
            lines += [f"## {key}", "", "```json", json.dumps(value, indent=2), "```", ""]
    return "\n".join(lines)


def main(chosen: list[str]) -> None:
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    torch.set_num_threads(1)
    results = json.loads(RESULTS_JSON.read_text()) if chosen and RESULTS_JSON.is_file() else {}
    machines = results.pop("machines", {})  # benchmark -> the machine its figures were measured on
    for name in chosen or BENCHMARKS:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        figures = importlib.import_module(name).run()
        print(json.dumps(figures, indent=2), f"({time.perf_counter() - start:.0f} s)", flush=True)
        results.update(figures)
        machines[name] = machine()
    results["gpu"] = "measured" if torch.cuda.is_available() else NO_GPU
    results["machines"] = {name: machines[name] for name in BENCHMARKS if name in machines}
    ordered = {k: results[k] for k in TARGETS if k in results} | results
    RESULTS_JSON.write_text(json.dumps(ordered, indent=2) + "\n")
    RESULTS_MD.write_text(markdown(ordered))
    print(f"wrote {RESULTS_JSON} and {RESULTS_MD}")


if __name__ == "__main__":
    main(sys.argv[1:])

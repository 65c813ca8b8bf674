"""docs/results.json: the rows behind docs/results.md, concatenated from the commands' own outputs.

- ``tinyimagenet_report/rows.json`` (``python -m colorlab report``: colorlab's models, the Stanford regression
  row, the three baselines on every colour validation image, and the quoted Stanford rows);
- ``tinyimagenet_report_stanford/rows.json`` (the four full-resolution Stanford classifiers and the baselines,
  on the colour images among the first 2,048 of the validation split; their baselines renamed
  ``... (Stanford classifiers' images)``);
- ``tinyimagenet_report_bf16/rows.json`` (the same ``report`` on the two 20-epoch bf16 runs: the
  ResUNet regression and the rebalanced ResUNet classifier; its baselines are the first report's, so only the
  models' rows are taken);
- ``evaluate_mode_decoding/results.json`` (``python -m colorlab evaluate --decoding mode``: the classifier with
  mode decoding; its training facts are the classifier's row's).

It also rewrites the table in docs/results.md between its ``<!-- rows:begin -->`` and ``<!-- rows:end -->``
markers from the same rows. Run from the repository root: ``python docs/results_rows.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

DOCS = Path(__file__).resolve().parent
COLUMNS = [("ab_l1", "ab L1", ".4f"), ("ab_l2", "ab L2", ".5f"), ("top1", "top-1", ".4f"), ("auc", "AuC", ".4f"),
           ("psnr", "PSNR dB", ".2f"), ("colorfulness_ratio", "colourf. ratio", ".3f"),
           ("train_minutes", "train min", ".1f"), ("steps", "steps", "d"), ("epochs", "epochs", ".2f"),
           ("images_per_s", "images/s", ".1f"), ("evaluated_images", "val images", ",d")]  # fmt: skip


def markdown(rows: list[dict]) -> str:
    cell = lambda r, key, spec: "" if r.get(key) is None else format(r[key], spec)
    lines = ["| row | objective | " + " | ".join(label for _, label, _ in COLUMNS) + " |",
             "|:---|:---|" + "---:|" * len(COLUMNS)]  # fmt: skip
    lines += [f"| {r['name']} | {r['objective']} | " + " | ".join(cell(r, k, s) for k, _, s in COLUMNS) + " |"
              for r in rows]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    full = json.loads((DOCS / "tinyimagenet_report" / "rows.json").read_text())
    quoted = [r for r in full if r["objective"] == "published"]
    rows = [r for r in full if r["objective"] != "published"]
    bf16 = json.loads((DOCS / "tinyimagenet_report_bf16" / "rows.json").read_text())
    first_baseline = next(i for i, r in enumerate(rows) if r["objective"] == "baseline")
    rows[first_baseline:first_baseline] = [r for r in bf16 if r["objective"] not in ("baseline", "published")]
    for row in json.loads((DOCS / "tinyimagenet_report_stanford" / "rows.json").read_text()):
        if row["objective"] == "baseline":
            row["name"] += " (Stanford classifiers' images)"
        rows.append(row)
    saved = json.loads((DOCS / "evaluate_mode_decoding" / "results.json").read_text())
    ((dataset, results),) = saved["results"].items()
    ((_, result),) = ((n, r) for n, r in results.items() if not n.startswith("baseline_"))
    m = result["metrics"]
    classifier = next(r for r in rows if r["objective"] == "classification" and "res_unet_cls" in (r["command"] or ""))
    rows.append({**classifier, "name": f"{classifier['name']}, mode decoding", "ab_l1": m["ab_l1_n"],
                 "ab_l2": m["ab_mse_n"], "top1": m["top1"], "auc": m["auc"], "psnr": m["psnr"],
                 "colorfulness_ratio": m["colorfulness_ratio"], "evaluated_on": dataset,
                 "evaluated_images": saved["meta"]["datasets"][dataset]["images"],
                 "command": f"{classifier['command']}; then python -m colorlab evaluate --decoding mode"})
    for row in rows:  # every row carries the table's fields; a baseline has no training
        for key in ("top1", "colorfulness_ratio", "train_minutes", "device", "command"):
            row.setdefault(key, None)
    (DOCS / "results.json").write_text(json.dumps(rows + quoted, indent=1) + "\n")
    page = (DOCS / "results.md").read_text()
    begin, end = "<!-- rows:begin -->", "<!-- rows:end -->"
    head, rest = page.split(begin)
    (DOCS / "results.md").write_text(f"{head}{begin}\n{markdown(rows + quoted)}\n{end}{rest.split(end)[1]}")
    print(f"docs/results.json and the table in docs/results.md: {len(rows) + len(quoted)} rows")


if __name__ == "__main__":
    main()

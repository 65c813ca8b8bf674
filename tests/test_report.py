"""`python -m colorlab report`, end to end on two tiny runs trained in the test session."""

import csv
import json
import os
from html.parser import HTMLParser

import pytest
from conftest import TINY_DATA
from PIL import Image

from colorlab.cli import cli_main
from colorlab.report import find_run, read_metrics_csv


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.cells = [], []

    def handle_starttag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("href", "src")]

    def handle_data(self, data):
        self.cells.append(data)


@pytest.mark.slow
def test_report_page_links_resolve_pngs_decode_and_the_table_is_the_logged_metrics(tiny_runs, tmp_path):
    out = tmp_path / "report"
    # the runs' own validation images: the table must repeat what training logged for the same checkpoints
    quoted = [{"name": "Paper: CNN (quoted)", "objective": "published", "ab_l1": 0.081, "ab_l2": 0.016, "top1": 0.28,
               "source": "a paper, Table 1"}]  # fmt: skip
    (tmp_path / "quoted.json").write_text(json.dumps(quoted))
    paths = cli_main(["report", *map(str, tiny_runs), "--output", str(out), "--split", "val", "--checkpoint", "last",
                      "--device", "cpu", "--samples", "3", "--reference", str(tmp_path / "quoted.json"), *TINY_DATA])  # fmt: skip
    page = (out / "index.html").read_text()
    parser = _Links()
    parser.feed(page)
    assert {"curves.png", "rmse_cdf.png", "pixel_error_cdf.png", "colorfulness.png", "samples.png",
            "results.csv", "results.json", "results.md", "report.md"} <= set(parser.links)  # fmt: skip
    for link in parser.links:
        assert not link.startswith(("/", "http")) and (out / link).is_file(), link  # relative, and it resolves
    for png in out.glob("*.png"):
        with Image.open(png) as image:
            image.load()  # decodes
            assert image.width > 100 and image.height > 100, png.name
    with Image.open(out / "samples.png") as samples:
        assert samples.height > samples.width / 4 * 2  # 3 rows, 4 columns (grayscale | 2 models | truth)
    saved = json.loads((out / "results.json").read_text())["results"]["ScenesDataModule/val"]
    assert list(saved) == ["cls/version_0", "reg/version_0", "baseline_grey", "baseline_mean_ab", "baseline_mode_bin"]
    for name, run in zip(["cls/version_0", "reg/version_0"], tiny_runs):
        with (run / "metrics.csv").open() as f:
            logged = [r for r in csv.DictReader(f) if r.get("val/ab_l1")][-1]
        assert saved[name]["metrics"]["ab_l1"] == pytest.approx(float(logged["val/ab_l1"]), rel=1e-5)
        assert f"{saved[name]['metrics']['ab_l1']:.4g}" in parser.cells  # the page's table shows it
        assert f"{saved[name]['metrics']['ab_mse']:.4g}" in parser.cells
    # rows.json: one flat row per predictor in ab/128 units with the run's training facts, then the quoted rows
    rows = {r["name"]: r for r in json.loads((out / "rows.json").read_text())}
    assert list(rows) == [*saved, "Paper: CNN (quoted)"] and rows["Paper: CNN (quoted)"] == quoted[0]
    cls, reg = rows["cls/version_0"], rows["reg/version_0"]
    assert (cls["objective"], reg["objective"], rows["baseline_grey"]["objective"]) == ("classification", "regression", "baseline")
    assert cls["ab_l1"] == saved["cls/version_0"]["metrics"]["ab_l1_n"] == pytest.approx(saved["cls/version_0"]["metrics"]["ab_l1"] / 128)
    assert reg["ab_l2"] == saved["reg/version_0"]["metrics"]["ab_mse_n"]
    assert cls["top1"] == saved["cls/version_0"]["metrics"]["top1"] and reg["top1"] == saved["reg/version_0"]["metrics"]["bin_acc"]
    for row in (cls, reg):  # 4 steps of 8 images over the 32 training images
        assert (row["steps"], row["batch_size"], row["epochs"]) == (4, 8, 1.0)
        assert row["images_per_s"] == pytest.approx(32 / (row["train_minutes"] * 60)) and isinstance(row["command"], str)
        assert row["device"].startswith("CPU") and row["evaluated_images"] == 8
    assert reg["train_minutes_source"] == "Timer" and cls["train_minutes_source"] == "checkpoint time - run start"
    assert 0 < cls["train_minutes"] < 5 and 0 < reg["train_minutes"] < 5  # 4 steps: minutes, not a time-zone offset
    md = (out / "report.md").read_text()
    assert "| baseline_mode_bin |" in md and "![samples](samples.png)" in md
    assert "| Paper: CNN (quoted) | 0.081 | 0.016 | 0.28 | a paper, Table 1 |" in md and "rows.json" in parser.links
    assert paths["html"] == out / "index.html"
    # runs and checkpoints are named relative to the report folder: no absolute path of this machine
    results_json = (out / "results.json").read_text()
    for run in tiny_runs:
        assert str(run) not in md + page + results_json
        assert f"`{os.path.relpath(run, out)}`" in md and os.path.relpath(run, out) in page


def test_find_run_accepts_a_run_folder_or_its_root(tiny_runs, tmp_path):
    run = tiny_runs[0]
    assert find_run(run)["dir"] == run == find_run(run.parents[1])["dir"]
    assert find_run(run, "last")["checkpoint"].name == "last.ckpt"
    assert find_run(run)["checkpoint"].name.startswith("best-")
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        find_run(tmp_path)
    with pytest.raises(ValueError, match="newest"):
        find_run(run, "newest")


def test_metrics_csv_series_are_the_logged_rows(tiny_runs):
    series = read_metrics_csv(tiny_runs[0] / "metrics.csv")
    steps, loss = series["train/loss"]
    assert list(steps) == [0, 1, 2, 3] and len(loss) == 4  # log_every_n_steps 1, 4 steps
    assert len(series["val/ab_l1"][0]) == 1  # one validation, at the end of the epoch


def test_sample_titles_wrap_long_run_names_at_their_separators():
    from colorlab.report import wrap_name

    name = "tinyimagenet_res_unet_cls_rebal_bf16_20ep/version_0"
    lines = wrap_name(name, width=24).split("\n")
    assert lines == ["tinyimagenet_res_unet_", "cls_rebal_bf16_20ep/", "version_0"]
    assert wrap_name("grayscale") == "grayscale" and wrap_name("a" * 30 + "/v") == "a" * 30 + "/\nv"

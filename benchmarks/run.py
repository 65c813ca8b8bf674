"""``make bench``: run every benchmark script in this folder; each prints its figures and writes
``benchmarks/results/<name>.json``. Run one alone with ``.venv/bin/python benchmarks/<name>.py``."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent

if __name__ == "__main__":
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run.py")
    chosen = [p for p in scripts if not sys.argv[1:] or p.stem in sys.argv[1:]]
    for script in chosen:
        print(f"== {script.stem}", flush=True)
        runpy.run_path(str(script), run_name="__main__")

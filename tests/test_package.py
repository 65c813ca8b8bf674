"""The package as a whole: no import cycles between colorlab's modules, a fast ``--help``, the version and
the licence, and the Lightning range that ``pyproject.toml`` states."""

import ast
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import colorlab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "colorlab"
PYPROJECT = (ROOT / "pyproject.toml").read_text()  # read with regexes: tomllib is Python >= 3.11


def _project(key: str) -> str:
    return re.search(rf'^{key} = "([^"]+)"', PYPROJECT, re.MULTILINE).group(1)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """colorlab module -> the colorlab modules it imports anywhere in its file (function-level imports too)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                # `from colorlab import color` imports colorlab.color; `from colorlab.x import f` imports colorlab.x
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert graph["colorlab.colorize"] >= {"colorlab.infer", "colorlab.video"}  # the graph sees real imports
    # a package's __init__ importing its submodules is not a cycle with them; the rest is
    graph = {m: {t for t in targets if not (m.startswith(t + ".") and t in graph)} for m, targets in graph.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_help_is_fast_and_imports_no_command():
    """``python -m colorlab --help`` imports no command module (no torch, no Lightning)."""
    code = "import sys, runpy; sys.argv = ['colorlab', '--help']; runpy.run_module('colorlab', run_name='__main__'); " \
           "print(sorted(m for m in ('torch', 'lightning', 'jsonargparse') if m in sys.modules))"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert seconds < 5, f"--help took {seconds:.1f} s"


def test_colorize_with_a_zoo_model_imports_neither_lightning_nor_timm(tmp_path):
    """What keeps ``colorize`` of a photo with a zoo model near torch's own start-up: the command, the model's
    rebuild (``colorlab.network``, colorlab's Lite encoder) and the photo's path import none of these."""
    from PIL import Image
    from skimage import data

    Image.fromarray(data.coffee()).save(tmp_path / "coffee.jpg")
    heavy = ("lightning", "timm", "torchvision", "torchmetrics", "numba", "wandb")
    code = (f"import sys, runpy; sys.argv = ['colorlab', 'colorize', '--input', 'coffee.jpg', '--output', 'out']; "
            f"runpy.run_module('colorlab', run_name='__main__'); print(sorted(m for m in {heavy} if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, env=env)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert Image.open(tmp_path / "out" / "coffee.jpg").size == (600, 400)


def test_version_is_the_package_metadata_and_pyproject():
    assert colorlab.__version__ == _project("version")


def test_licence_is_mit_as_pyproject_says():
    text = (ROOT / "LICENSE").read_text()
    assert _project("license") == "MIT" and text.startswith("MIT License")
    assert re.search(r"Copyright \(c\) \d{4} colorlab contributors", text)


def test_installed_lightning_is_in_the_stated_range():
    from importlib.metadata import version

    low, high = re.search(r'"lightning>=([\d.]+),<([\d.]+)"', PYPROJECT).groups()
    installed = tuple(int(x) for x in version("lightning").split(".")[:2])
    assert tuple(int(x) for x in low.split(".")) <= installed < tuple(int(x) for x in high.split("."))

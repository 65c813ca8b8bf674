"""Finding a dataset on disk: image listing, stratified splits, and detection of a publisher's layout."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorlab.errors import ColorlabError, MissingFileError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
"""File suffixes (any case) that the folder scans pick up."""


class LayoutError(MissingFileError):
    """``root`` does not hold the layout a DataModule reads; the message says what was expected and found."""


def list_images(folder: str | os.PathLike) -> list[str]:
    """Sorted paths of the image files (``IMAGE_EXTENSIONS``, any case) in ``folder`` and its sub-folders;
    hidden files and folders are skipped. Sorting makes the list, hence every split, identical on every rank."""
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [
            os.path.join(parent, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS) and f[0] != "."
        ]
    return sorted(found)


def stratified_split(groups: Sequence[str], fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Split item indices into parts with the given fractions, every group (class) split alike.

    Held-out parts (all but the first) take ``ceil(f * N)`` items in total, so a non-zero fraction is
    never empty; within a group their share is ``f * n_group`` rounded up or down (running rounding
    across groups in sorted order). The first part takes the rest. Members are shuffled with ``seed``.

    Args:
        groups: the group label of each item.
        fractions: one per part, summing to 1, e.g. (0.8, 0.1, 0.1).
        seed: shuffle seed.

    Returns:
        One sorted index list per part.
    """
    if not math.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ColorlabError(f"fractions must be >= 0 and sum to 1, got {tuple(fractions)}")
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    seen = 0
    for group in sorted(members):
        items = [members[group][j] for j in rng.permutation(len(members[group]))]
        before, seen = seen, seen + len(items)
        start = 0
        for part, fraction in list(enumerate(fractions))[1:]:
            take = math.ceil(fraction * seen - 1e-9) - math.ceil(fraction * before - 1e-9)
            take = min(take, len(items) - start)
            parts[part] += items[start : start + take]
            start += take
        parts[0] += items[start:]
    return [sorted(p) for p in parts]


@dataclass(frozen=True)
class Layout:
    """One way a publisher lays a dataset out on disk.

    Args:
        name: short name, e.g. "file-lists".
        expected: what the layout looks like, for error messages.
        matches: does a folder hold this layout?
    """

    name: str
    expected: str
    matches: Callable[[Path], bool]


def _listing(folder: Path, most: int = 12) -> str:
    try:
        entries = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(folder))
    except OSError as err:
        return f"unreadable ({err})"
    if not entries:
        return "nothing (empty folder)"
    more = f" ... (+{len(entries) - most} more)" if len(entries) > most else ""
    return ", ".join(entries[:most]) + more


def find_layout(
    root: str | os.PathLike, dataset: str, layouts: Sequence[Layout], depth: int = 2
) -> tuple[Layout, Path]:
    """The first of ``layouts`` found at ``root`` or up to ``depth`` folder levels below it (so ``root``
    may be the dataset folder or the folder it was unpacked into), breadth first, in sorted order.

    Raises:
        LayoutError: naming the expected layouts and what ``root`` holds.
    """
    root = Path(root).expanduser()
    expected = "\n".join(f"  - {layout.name}: {layout.expected}" for layout in layouts)
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise LayoutError(f"{dataset}: root {root} {what}; expected a folder holding one of:\n{expected}")
    level = [root]
    for _ in range(depth + 1):
        for folder in level:
            for layout in layouts:
                if layout.matches(folder):
                    return layout, folder
        level = [
            Path(e.path)
            for f in level
            for e in sorted(os.scandir(f), key=lambda e: e.name)
            if e.is_dir() and not e.name.startswith(".")
        ]
    raise LayoutError(
        f"{dataset}: no known layout at or up to {depth} levels below {root}. Expected one of:\n{expected}\n"
        f"{root} holds: {_listing(root)}"
    )

"""The machine a command runs on: which torch device (``pick_device``) and what the machine is, in words.
Imports torch alone, so that inference commands need not import Lightning."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from colorlab.errors import ColorlabError


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; elsewhere what ``platform`` knows)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def device_description() -> str:
    """The machine a run trains on, in words: the CUDA devices, or the CPU model and PyTorch's thread count."""
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return ", ".join(f"{names.count(n)} x {n}" for n in dict.fromkeys(names))
    return f"CPU ({cpu_model()}), {torch.get_num_threads()} thread(s) of {os.cpu_count()} logical cores"


def pick_device(device: str = "auto") -> torch.device:
    """The torch device a command runs on: "auto" is CUDA when there is one, else the CPU; otherwise any name
    torch knows (cpu, cuda, cuda:N, mps)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ColorlabError(f"--device must be auto, cpu, cuda or cuda:N; got {device!r}") from None

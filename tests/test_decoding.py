"""Classification.decode honours its decoding and temperature (numpy reference)."""

import numpy as np
import pytest
import torch

from colorlab import color
from colorlab.objectives import Classification


@pytest.mark.parametrize("temperature", [0.2, 0.38, 0.9])
def test_annealed_mean_decode_uses_the_objectives_temperature(temperature):
    g = torch.Generator().manual_seed(1)
    q = color.ab_bins().shape[0]
    logits = torch.randn(2, q, 3, 4, generator=g) * 3
    z = logits.double().numpy().transpose(0, 2, 3, 1) / temperature  # (B, h, w, Q)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    expected = (p @ color.ab_bins().double().numpy()).transpose(0, 3, 1, 2) / 128  # (B, 2, h, w), ab/128
    got = Classification(decoding="annealed_mean", temperature=temperature).decode(logits, (3, 4))
    np.testing.assert_allclose(got.double().numpy(), expected, atol=1e-5)

"""U-Net colorizer with additive skips (Stanford report, "U-Net Classification Model").

Eight conv blocks: encoder blocks 1-4 each end by halving H and W, decoder blocks 5-8 each start by
doubling them, and the encoder features of block 3 are summed into block 6, 2 into 7 and 1 into 8
("summing higher resolution feature maps from the encoder ... with the upsampled features").
The output is at full input resolution (``out_stride`` predicts at 1/2 to 1/8 of it instead), and the net
serves either objective.

    python -m colorlab fit --model.net colorlab.models.UNet --model.net.width 64
"""

from __future__ import annotations

import torch
from torch import nn

from colorlab.errors import ColorlabError
from colorlab.models.layers import ConvBlock, Upsample2x, check_input, zero_head


class UNet(nn.Module):
    """U-Net with additive skip connections, full-resolution output (Stanford report).

    Encoder block k (k = 1..4) runs ``depth`` 3x3 convs at H/2^(k-1) with ``width * 2^(k-1)`` channels;
    its output is kept for the skip, then a 2x2 max-pool halves it (block 4's pool is the H/16
    bottleneck). Decoder block k (k = 5..8) upsamples x2 with a learned transposed conv to the channel
    count of the encoder level it meets, adds that level's encoder output (blocks 6, 7, 8 take blocks
    3, 2, 1: the report's skips; block 5 has none), then runs ``depth`` 3x3 convs. BatchNorm ends every
    block, as between the conv groups of the report's Figure 1. A 1x1 conv maps to ``out_channels``.

    The report's classification net follows Zhang et al. (2016), whose channels start at 64; width 64
    gives encoder channels 64, 128, 256, 512 and about 17.9M parameters, width 32 about 4.5M.

    Args:
        out_channels: output channels: 2 (ab) for regression, Q for classification.
        width: channels of block 1; each encoder level doubles it.
        depth: 3x3 convs per block.
        out_stride: predict at 1/out_stride of the input's resolution (1, 2, 4 or 8): the last
            log2(out_stride) decoder blocks (and their skips) are left out, so the output, and for
            classification the Q-bin logits, soft-encoding and loss, cost 1/out_stride^2 as much; ab is
            upsampled bilinearly when decoded (Zhang et al. 2016 predict at 1/4). 1 is the report's net.
    """

    multiple = 16  # four x2 poolings
    supports = ("regression", "classification")

    def __init__(self, out_channels: int, width: int = 64, depth: int = 2, out_stride: int = 1) -> None:
        super().__init__()
        if out_channels < 1 or width < 1 or depth < 1:
            raise ColorlabError(
                f"out_channels, width and depth must be >= 1, got {out_channels}, {width}, {depth}"
            )
        if out_stride not in (1, 2, 4, 8):
            raise ColorlabError(f"out_stride must be 1, 2, 4 or 8, got {out_stride}")
        self.stride = out_stride
        blocks = 4 - out_stride.bit_length() + 1  # decoder blocks kept: 4, 3, 2, 1
        channels = [width * 2**k for k in range(4)]  # encoder levels H, H/2, H/4, H/8
        self.encoder = nn.ModuleList(
            ConvBlock(c_in, c, depth) for c_in, c in zip([1, *channels[:-1]], channels)
        )
        self.pool = nn.MaxPool2d(2)
        # decoder blocks 5..8 meet encoder levels H/8, H/4, H/2, H
        dec_channels = channels[::-1][:blocks]
        up_in = [channels[-1], *dec_channels[:-1]]  # block 5 reads the bottleneck, the rest their predecessor
        self.up = nn.ModuleList(Upsample2x(c_in, c) for c_in, c in zip(up_in, dec_channels))
        self.decoder = nn.ModuleList(ConvBlock(c, c, depth) for c in dec_channels)
        self.head = zero_head(dec_channels[-1], out_channels)  # a fresh net predicts a constant

    def forward(self, x_l: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L/100 in [0, 1], H and W multiples of 16 -> (B, out_channels, H/s, W/s) raw outputs,
        s = out_stride."""
        check_input(x_l, self.multiple)
        skips = []
        x = x_l
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)  # (B, C_k, H/2^k, W/2^k); after block 4: (B, 8w, H/16, W/16)
        for k, (up, block) in enumerate(zip(self.up, self.decoder)):
            x = up(x)
            if k > 0:  # blocks 6, 7, 8 add blocks 3, 2, 1; block 5 (k = 0) has no skip in the report
                x = x + skips[3 - k]
            x = block(x)
        return self.head(x)  # (B, out_channels, H / out_stride, W / out_stride)

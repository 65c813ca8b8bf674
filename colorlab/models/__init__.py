"""The network catalogue: plain ``nn.Module``s, one file per architecture.

Contract every network keeps (``LitColorizer`` and the catalogue tests rely on it):

- ``__init__(self, out_channels: int, ...)``: ``out_channels`` is the first parameter and is filled by
  ``LitColorizer`` from the objective (2 for regression, Q for classification); every other argument is
  typed, has a default, and is documented under ``Args:`` (that text is the CLI's ``--help``).
- ``forward(x_l)``: ``x_l`` is (B, 1, H, W) float32, L/100 in [0, 1]; returns (B, out_channels, H/s, W/s)
  raw outputs (logits for classification, normalised ab for regression), where ``s = self.stride``
  (1 for full-resolution nets, 4 for Zhang-style nets). H and W need not be equal; they must be
  multiples of ``self.multiple`` (an int attribute; ``LitColorizer`` pads inputs to it).
- ``self.supports``: tuple of the objectives that make sense, from ("regression", "classification").

``__all__`` is the catalogue the tests parametrize over. Each network is imported when first named
(``colorlab._lazy``): ``colorlab.models.PretrainedUNet`` does not import timm's FusionNet.
"""

from colorlab._lazy import exports

_WHERE = {
    "Autoencoder": "autoencoder",
    "FusionNet": "fusion",
    "PretrainedUNet": "pretrained_unet",
    "ResNetRegressor": "resnet_regressor",
    "ResUNet": "res_unet",
    "ResidualCNN": "residual",
    "UNet": "unet",
    "ZhangCNN": "zhang",
}
__all__: list[str] = list(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)

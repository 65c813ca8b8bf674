"""colorlab's DataModules: one per dataset family, each reading its publisher's layout from ``root``.

Every one yields the batch contract of ``colorlab.data.base``: uint8 images, colour maths on the device.
Each is imported when first named (``colorlab._lazy``): the image decoding that ``colorize`` uses does not
import Lightning.
"""

from colorlab._lazy import exports

_WHERE = {
    "AnimalsDataModule": "kaggle",
    "ColorDataModule": "base",
    "FolderDataModule": "folder",
    "FruitDataModule": "kaggle",
    "ImageDataModule": "images",
    "ImageFilesDataModule": "images",
    "KaggleNpyDataModule": "npy",
    "PlacesDataModule": "places",
    "ScenesDataModule": "procedural",
    "StreamingDataModule": "streaming",
    "TinyImageNetDataModule": "tiny_imagenet",
    "convert_to_shards": "streaming",
}
__all__: list[str] = list(_WHERE)
__getattr__, __dir__ = exports(__name__, _WHERE)

"""colorlab's DataModules: one per dataset family, each reading its publisher's layout from ``root``.

Every one yields the batch contract of ``colorlab.data.base``: uint8 images, colour maths on the device.
"""

from colorlab.data.base import ColorDataModule
from colorlab.data.folder import FolderDataModule
from colorlab.data.images import ImageDataModule, ImageFilesDataModule
from colorlab.data.kaggle import AnimalsDataModule, FruitDataModule
from colorlab.data.npy import KaggleNpyDataModule
from colorlab.data.places import PlacesDataModule
from colorlab.data.procedural import ScenesDataModule
from colorlab.data.streaming import StreamingDataModule, convert_to_shards
from colorlab.data.tiny_imagenet import TinyImageNetDataModule

__all__ = [
    "AnimalsDataModule",
    "ColorDataModule",
    "FolderDataModule",
    "FruitDataModule",
    "ImageDataModule",
    "ImageFilesDataModule",
    "KaggleNpyDataModule",
    "PlacesDataModule",
    "ScenesDataModule",
    "StreamingDataModule",
    "TinyImageNetDataModule",
    "convert_to_shards",
]

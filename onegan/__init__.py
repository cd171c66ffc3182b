"""OneGAN (Benny & Wolf, ECCV 2020): one model for conditional generation, foreground segmentation
and clustering. The method-module contract lives in ``onegan.api`` and is re-exported here."""

from onegan.api import NAME, load, train

__all__ = ["NAME", "train", "load"]

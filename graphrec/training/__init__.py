"""The training function and its parts (precision, throughput meter, checkpoints)."""
from .loop import train

__all__ = ["train"]

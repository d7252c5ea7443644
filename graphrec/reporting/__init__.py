"""Run records and run comparison."""
from .record import EpochsCsv, epoch_columns, write_json

__all__ = ["EpochsCsv", "epoch_columns", "write_json"]

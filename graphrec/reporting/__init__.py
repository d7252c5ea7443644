"""Run records and run comparison."""
from .record import write_epochs, write_json

__all__ = ["write_epochs", "write_json"]

"""graphrec: fast, measured training of graph and contrastive recommenders."""
__version__ = "0.1.0"

"""Full-ranking evaluation and top-K metrics."""
from .metrics import topk_metrics, topk_stable
from .ranking import evaluate

__all__ = ["evaluate", "topk_metrics", "topk_stable"]

"""Item features as the feature models read them (CLCRec, VBPR, DropoutNet)."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .spec import NO_FEATURES


def item_feature_matrix(features: Dict[str, np.ndarray]) -> torch.Tensor:
    """``[n_items, sum of widths]``: each modality L2-normalised per row, concatenated (as
    :class:`~.clcrec.CLCRec` builds its encoder input)."""
    return torch.cat([F.normalize(torch.as_tensor(f, dtype=torch.float32), dim=1)
                      for f in features.values()], dim=1)


class FeatureInput(nn.Module):
    """A model with a constant feature buffer ``feat``; :meth:`step_feat` hands it out in the
    autocast dtype when autocast is on, cast once and kept (autocast would cast the same
    constant table again at every step)."""

    feat: torch.Tensor
    _feat_cast: Optional[torch.Tensor] = None

    def step_feat(self) -> torch.Tensor:
        device = self.feat.device.type
        if not torch.is_autocast_enabled(device):
            return self.feat
        dtype = torch.get_autocast_dtype(device)
        cast = self._feat_cast
        if cast is None or cast.dtype != dtype or cast.device != self.feat.device:
            cast = self._feat_cast = self.feat.to(dtype)
        return cast

    def set_features(self, features: Dict[str, np.ndarray], model: str,
                     order: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Register ``feat`` (:func:`item_feature_matrix`, rows in ``order`` when given) and
        return it; a model without features is refused, naming it."""
        if not features:
            raise ConfigError(NO_FEATURES.format(model=model.lower()))
        feat = item_feature_matrix(features)
        # modality -> width, in the matrix's order: what a new item's features must match
        self.feature_widths = {name: int(f.shape[1]) for name, f in features.items()}
        if order is not None:
            feat = feat[order]
        self.register_buffer("feat", feat, persistent=False)
        return feat

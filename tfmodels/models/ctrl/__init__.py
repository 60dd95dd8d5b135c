"""CTRL models."""

from tfmodels.models.catalogue import Family

from tfmodels.models.ctrl.modeling import CTRLLMHeadModel, CTRLModel

__all__ = ["CTRLLMHeadModel", "CTRLModel"]

FAMILY = Family(__name__, {"ctrl": "CTRL"})

"""CTRL models."""

from tfmodels.models.ctrl.modeling import CTRLLMHeadModel, CTRLModel

__all__ = ["CTRLLMHeadModel", "CTRLModel"]

"""Transformer-XL models."""

from tfmodels.models.transfo_xl.modeling import TransfoXLLMHeadModel, TransfoXLModel

__all__ = ["TransfoXLLMHeadModel", "TransfoXLModel"]

"""Transformer-XL models."""

from tfmodels.models.catalogue import Family

from tfmodels.models.transfo_xl.modeling import TransfoXLLMHeadModel, TransfoXLModel

__all__ = ["TransfoXLLMHeadModel", "TransfoXLModel"]

FAMILY = Family(__name__, {"transfo-xl": "TransfoXL"})

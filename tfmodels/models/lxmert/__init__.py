"""LXMERT: vision-and-language encoders (language, object relationships, cross-modality) and heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.lxmert.modeling import (
    LxmertForPreTraining,
    LxmertForQuestionAnswering,
    LxmertModel,
)

__all__ = [
    "LxmertForPreTraining",
    "LxmertForQuestionAnswering",
    "LxmertModel",
]

FAMILY = Family(__name__, {"lxmert": "Lxmert"})

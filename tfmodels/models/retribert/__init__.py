"""RetriBERT: a BERT bi-encoder for question-answer retrieval (removed from transformers 5)."""

from tfmodels.models.catalogue import Family

from tfmodels.models.retribert.modeling import RetriBertModel

__all__ = ["RetriBertModel"]

FAMILY = Family(__name__, {"retribert": "RetriBert"})

"""MMBT: a BERT over image-encoder embeddings and text (removed from transformers 5)."""

from tfmodels.models.catalogue import Family

from tfmodels.models.mmbt.modeling import MMBTForClassification, MMBTModel

__all__ = ["MMBTForClassification", "MMBTModel"]

# `MMBTForClassification` is registered for sequence classification by its name's prefix only if it
# followed the standard suffix; its task is sequence classification of (image, text) pairs.
FAMILY = Family(__name__, {"mmbt": "MMBT"}, tasks={"sequence-classification": "ForClassification"})

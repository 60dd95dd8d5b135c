"""RAG: retrieval-augmented generation on a DPR question encoder and a seq2seq generator, with a local retriever."""

from tfmodels.models.catalogue import Family

from tfmodels.models.rag.modeling import (
    RagModel,
    RagSequenceForGeneration,
    RagTokenForGeneration,
)
from tfmodels.models.rag.retrieval import PassageIndex, RagRetriever

__all__ = [
    "PassageIndex",
    "RagModel",
    "RagRetriever",
    "RagSequenceForGeneration",
    "RagTokenForGeneration",
]

# transformers registers no Auto class for RAG's generation heads: AutoModel gives RagModel.
FAMILY = Family(__name__, {"rag": "Rag"})

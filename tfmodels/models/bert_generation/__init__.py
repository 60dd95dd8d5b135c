"""BertGeneration encoder and decoder (the pieces of BERT2BERT encoder-decoders)."""

from tfmodels.models.catalogue import Family

from tfmodels.models.bert_generation.modeling import BertGenerationDecoder, BertGenerationEncoder

__all__ = ["BertGenerationDecoder", "BertGenerationEncoder"]

# `transformers` names the bare model `*Encoder` and the causal LM `*Decoder`.
FAMILY = Family(__name__, {"bert-generation": "BertGeneration"},
                tasks={"base": "Encoder", "causal-lm": "Decoder"})

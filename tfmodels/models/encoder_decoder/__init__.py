"""`EncoderDecoderModel`: a tfmodels encoder and a cross-attention causal-LM decoder as one seq2seq model."""

from tfmodels.models.catalogue import Family

from tfmodels.models.encoder_decoder.modeling import EncoderDecoderModel

__all__ = ["EncoderDecoderModel"]

# Registered for the seq2seq task (`transformers`' `AutoModelForSeq2SeqLM` maps "encoder-decoder" to it).
FAMILY = Family(__name__, {"encoder-decoder": "EncoderDecoder"},
                tasks={"base": None, "seq2seq-lm": "Model"})

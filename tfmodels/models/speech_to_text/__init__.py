"""Speech2Text (fairseq S2T): log-mel filter banks -> convolutional subsampler -> Transformer encoder-decoder."""

from tfmodels.models.catalogue import Family

from tfmodels.models.speech_to_text.modeling import Speech2TextForConditionalGeneration, Speech2TextModel

__all__ = ["Speech2TextForConditionalGeneration", "Speech2TextModel"]

# Hugging Face registers Speech2TextForConditionalGeneration for speech-to-text only
# (AutoModelForSpeechSeq2Seq), not for AutoModelForSeq2SeqLM, which takes text.
FAMILY = Family(__name__, {"speech_to_text": "Speech2Text"},
                tasks={"seq2seq-lm": None, "speech-seq2seq": "ForConditionalGeneration"})

"""wav2vec 2.0 backbone and task heads (speech: `input_values (batch, samples)`)."""

from tfmodels.models.catalogue import Family

from tfmodels.models.wav2vec2.heads import Wav2Vec2ForCTC, Wav2Vec2ForPreTraining, Wav2Vec2ForSequenceClassification
from tfmodels.models.wav2vec2.modeling import Wav2Vec2Model

__all__ = ["Wav2Vec2ForCTC", "Wav2Vec2ForPreTraining", "Wav2Vec2ForSequenceClassification", "Wav2Vec2Model"]

# Hugging Face registers Wav2Vec2ForSequenceClassification for audio classification only (it pools
# frames of audio): it must not answer `AutoModelForSequenceClassification`, which takes text.
FAMILY = Family(__name__, {"wav2vec2": "Wav2Vec2"},
                tasks={"sequence-classification": None, "audio-classification": "ForSequenceClassification"})

"""tfmodels: transformer layers and models for TensorFlow/Keras 3.

Models load from PyTorch (Hugging Face) checkpoints with numerical parity,
train with Keras `fit()` and export to SavedModel for TF Serving.

    import tfmodels
    model = tfmodels.AutoModel.from_pretrained("path/or/hub-id")
    outputs = model(dict(tokenizer(texts, return_tensors="np")))
"""

__version__ = "0.1.0"

from tfmodels._startup import quiet_tensorflow_for_cli

quiet_tensorflow_for_cli()  # only in the `tfmodels` command: before anything imports TensorFlow

from tfmodels import layers  # noqa: E402
from tfmodels.auto import (  # noqa: E402
    AutoConfig,
    AutoModel,
    AutoModelForAudioClassification,
    AutoModelForCTC,
    AutoModelForCausalLM,
    AutoModelForImageClassification,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForSpeechSeq2Seq,
    AutoModelForTableQuestionAnswering,
    AutoModelForTokenClassification,
    AutoModelForZeroShotImageClassification,
)
from tfmodels.converters.errors import CheckpointError, UnknownModelTypeError, WeightMismatchError  # noqa: E402
from tfmodels.export import export_saved_model  # noqa: E402
from tfmodels.models.base import PreTrainedModel  # noqa: E402
from tfmodels.models.config import PretrainedConfig  # noqa: E402
from tfmodels.models.outputs import ModelOutput  # noqa: E402
from tfmodels.pipelines import pipeline  # noqa: E402
from tfmodels.sentence_embeddings import SentenceEmbedder  # noqa: E402
from tfmodels.models.catalogue import families as _families  # noqa: E402

__all__ = [
    "AutoConfig",
    "AutoModel",
    "AutoModelForAudioClassification",
    "AutoModelForCTC",
    "AutoModelForCausalLM",
    "AutoModelForImageClassification",
    "AutoModelForMaskedLM",
    "AutoModelForMultipleChoice",
    "AutoModelForQuestionAnswering",
    "AutoModelForSeq2SeqLM",
    "AutoModelForSequenceClassification",
    "AutoModelForSpeechSeq2Seq",
    "AutoModelForTableQuestionAnswering",
    "AutoModelForTokenClassification",
    "AutoModelForZeroShotImageClassification",
    "CheckpointError",
    "ModelOutput",
    "PreTrainedModel",
    "PretrainedConfig",
    "SentenceEmbedder",
    "UnknownModelTypeError",
    "WeightMismatchError",
    "export_saved_model",
    "layers",
    "pipeline",
]

# Every family's public classes (`tfmodels.BertModel`, `tfmodels.GPT2LMHeadModel`, ...), from the
# families' declarations: the list of families is `tfmodels.models.catalogue.FAMILIES`.
for _family in _families():
    globals().update(_family.exports)
    __all__ += sorted(_family.exports)
del _family

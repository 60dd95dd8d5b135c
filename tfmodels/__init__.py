"""tfmodels: transformer layers and models for TensorFlow/Keras 3.

Models load from PyTorch (Hugging Face) checkpoints with numerical parity,
train with Keras `fit()` and export to SavedModel for TF Serving.

    import tfmodels
    model = tfmodels.AutoModel.from_pretrained("path/or/hub-id")
    outputs = model(dict(tokenizer(texts, return_tensors="np")))
"""

__version__ = "0.1.0"

from tfmodels import layers
from tfmodels.auto import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from tfmodels.converters.errors import CheckpointError, UnknownModelTypeError, WeightMismatchError
from tfmodels.export import export_saved_model
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.bert import (
    BertForMaskedLM,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)

__all__ = [
    "AutoModel",
    "AutoModelForCausalLM",
    "AutoModelForMaskedLM",
    "AutoModelForMultipleChoice",
    "AutoModelForQuestionAnswering",
    "AutoModelForSeq2SeqLM",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "BertForMaskedLM",
    "BertForMultipleChoice",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "CheckpointError",
    "PreTrainedModel",
    "UnknownModelTypeError",
    "WeightMismatchError",
    "export_saved_model",
    "layers",
]

from tfmodels.models.roberta import *  # noqa: E402,F401,F403
from tfmodels.models import roberta as _roberta  # noqa: E402

__all__ += _roberta.__all__

from tfmodels.models.electra import *  # noqa: E402,F401,F403
from tfmodels.models import electra as _electra  # noqa: E402

__all__ += _electra.__all__

from tfmodels.models.distilbert import *  # noqa: E402,F401,F403
from tfmodels.models import distilbert as _distilbert  # noqa: E402

__all__ += _distilbert.__all__

from tfmodels.models.albert import *  # noqa: E402,F401,F403
from tfmodels.models import albert as _albert  # noqa: E402

__all__ += _albert.__all__

from tfmodels.models.megatron_bert import *  # noqa: E402,F401,F403
from tfmodels.models import megatron_bert as _megatron_bert  # noqa: E402

__all__ += _megatron_bert.__all__

from tfmodels.models.dpr import *  # noqa: E402,F401,F403
from tfmodels.models import dpr as _dpr  # noqa: E402

__all__ += _dpr.__all__

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
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from tfmodels.converters.errors import CheckpointError, UnknownModelTypeError, WeightMismatchError  # noqa: E402
from tfmodels.export import export_saved_model  # noqa: E402
from tfmodels.models.base import PreTrainedModel  # noqa: E402
from tfmodels.models.bert import (  # noqa: E402
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

from tfmodels.models.layoutlm import (  # noqa: E402
    LayoutLMForMaskedLM,
    LayoutLMForQuestionAnswering,
    LayoutLMForSequenceClassification,
    LayoutLMForTokenClassification,
    LayoutLMModel,
)

__all__ += [
    "LayoutLMForMaskedLM",
    "LayoutLMForQuestionAnswering",
    "LayoutLMForSequenceClassification",
    "LayoutLMForTokenClassification",
    "LayoutLMModel",
]

from tfmodels.models.flaubert import (  # noqa: E402
    FlaubertForMultipleChoice,
    FlaubertForQuestionAnswering,
    FlaubertForQuestionAnsweringSimple,
    FlaubertForSequenceClassification,
    FlaubertForTokenClassification,
    FlaubertModel,
    FlaubertWithLMHeadModel,
)
from tfmodels.models.xlm import (  # noqa: E402
    XLMForMultipleChoice,
    XLMForQuestionAnswering,
    XLMForQuestionAnsweringSimple,
    XLMForSequenceClassification,
    XLMForTokenClassification,
    XLMModel,
    XLMWithLMHeadModel,
)

__all__ += [
    "FlaubertForMultipleChoice",
    "FlaubertForQuestionAnswering",
    "FlaubertForQuestionAnsweringSimple",
    "FlaubertForSequenceClassification",
    "FlaubertForTokenClassification",
    "FlaubertModel",
    "FlaubertWithLMHeadModel",
    "XLMForMultipleChoice",
    "XLMForQuestionAnswering",
    "XLMForQuestionAnsweringSimple",
    "XLMForSequenceClassification",
    "XLMForTokenClassification",
    "XLMModel",
    "XLMWithLMHeadModel",
]

from tfmodels.models.mobilebert import (  # noqa: E402
    MobileBertForMaskedLM,
    MobileBertForMultipleChoice,
    MobileBertForNextSentencePrediction,
    MobileBertForPreTraining,
    MobileBertForQuestionAnswering,
    MobileBertForSequenceClassification,
    MobileBertForTokenClassification,
    MobileBertModel,
)

__all__ += [
    "MobileBertForMaskedLM",
    "MobileBertForMultipleChoice",
    "MobileBertForNextSentencePrediction",
    "MobileBertForPreTraining",
    "MobileBertForQuestionAnswering",
    "MobileBertForSequenceClassification",
    "MobileBertForTokenClassification",
    "MobileBertModel",
]

from tfmodels.models.squeezebert import (  # noqa: E402
    SqueezeBertForMaskedLM,
    SqueezeBertForMultipleChoice,
    SqueezeBertForQuestionAnswering,
    SqueezeBertForSequenceClassification,
    SqueezeBertForTokenClassification,
    SqueezeBertModel,
)

__all__ += [
    "SqueezeBertForMaskedLM",
    "SqueezeBertForMultipleChoice",
    "SqueezeBertForQuestionAnswering",
    "SqueezeBertForSequenceClassification",
    "SqueezeBertForTokenClassification",
    "SqueezeBertModel",
]

from tfmodels.models.deberta import (  # noqa: E402
    DebertaForMaskedLM,
    DebertaForQuestionAnswering,
    DebertaForSequenceClassification,
    DebertaForTokenClassification,
    DebertaModel,
    DebertaV2ForMaskedLM,
    DebertaV2ForMultipleChoice,
    DebertaV2ForQuestionAnswering,
    DebertaV2ForSequenceClassification,
    DebertaV2ForTokenClassification,
    DebertaV2Model,
)

__all__ += [
    "DebertaForMaskedLM",
    "DebertaForQuestionAnswering",
    "DebertaForSequenceClassification",
    "DebertaForTokenClassification",
    "DebertaModel",
    "DebertaV2ForMaskedLM",
    "DebertaV2ForMultipleChoice",
    "DebertaV2ForQuestionAnswering",
    "DebertaV2ForSequenceClassification",
    "DebertaV2ForTokenClassification",
    "DebertaV2Model",
]

from tfmodels.models.roformer import (  # noqa: E402
    RoFormerForMaskedLM,
    RoFormerForMultipleChoice,
    RoFormerForQuestionAnswering,
    RoFormerForSequenceClassification,
    RoFormerForTokenClassification,
    RoFormerModel,
)

__all__ += [
    "RoFormerForMaskedLM",
    "RoFormerForMultipleChoice",
    "RoFormerForQuestionAnswering",
    "RoFormerForSequenceClassification",
    "RoFormerForTokenClassification",
    "RoFormerModel",
]

from tfmodels.models.mpnet import (  # noqa: E402
    MPNetForMaskedLM,
    MPNetForMultipleChoice,
    MPNetForQuestionAnswering,
    MPNetForSequenceClassification,
    MPNetForTokenClassification,
    MPNetModel,
)

__all__ += [
    "MPNetForMaskedLM",
    "MPNetForMultipleChoice",
    "MPNetForQuestionAnswering",
    "MPNetForSequenceClassification",
    "MPNetForTokenClassification",
    "MPNetModel",
]

from tfmodels.models.convbert import (  # noqa: E402
    ConvBertForMaskedLM,
    ConvBertForMultipleChoice,
    ConvBertForQuestionAnswering,
    ConvBertForSequenceClassification,
    ConvBertForTokenClassification,
    ConvBertModel,
)

__all__ += [
    "ConvBertForMaskedLM",
    "ConvBertForMultipleChoice",
    "ConvBertForQuestionAnswering",
    "ConvBertForSequenceClassification",
    "ConvBertForTokenClassification",
    "ConvBertModel",
]

from tfmodels.models.funnel import (  # noqa: E402
    FunnelBaseModel,
    FunnelForMaskedLM,
    FunnelForMultipleChoice,
    FunnelForPreTraining,
    FunnelForQuestionAnswering,
    FunnelForSequenceClassification,
    FunnelForTokenClassification,
    FunnelModel,
)

__all__ += [
    "FunnelBaseModel",
    "FunnelForMaskedLM",
    "FunnelForMultipleChoice",
    "FunnelForPreTraining",
    "FunnelForQuestionAnswering",
    "FunnelForSequenceClassification",
    "FunnelForTokenClassification",
    "FunnelModel",
]

from tfmodels.models.xlnet import (  # noqa: E402
    XLNetForMultipleChoice,
    XLNetForQuestionAnsweringSimple,
    XLNetForSequenceClassification,
    XLNetForTokenClassification,
    XLNetLMHeadModel,
    XLNetModel,
)

__all__ += [
    "XLNetForMultipleChoice",
    "XLNetForQuestionAnsweringSimple",
    "XLNetForSequenceClassification",
    "XLNetForTokenClassification",
    "XLNetLMHeadModel",
    "XLNetModel",
]

from tfmodels.models.transfo_xl import TransfoXLLMHeadModel, TransfoXLModel  # noqa: E402

__all__ += ["TransfoXLLMHeadModel", "TransfoXLModel"]

from tfmodels.models.gpt2 import (  # noqa: E402
    GPT2DoubleHeadsModel,
    GPT2ForSequenceClassification,
    GPT2ForTokenClassification,
    GPT2LMHeadModel,
    GPT2Model,
)

__all__ += [
    "GPT2DoubleHeadsModel",
    "GPT2ForSequenceClassification",
    "GPT2ForTokenClassification",
    "GPT2LMHeadModel",
    "GPT2Model",
]

from tfmodels.models.ctrl import CTRLLMHeadModel, CTRLModel  # noqa: E402
from tfmodels.models.gpt_neo import GPTNeoForCausalLM, GPTNeoModel  # noqa: E402
from tfmodels.models.openai import OpenAIGPTLMHeadModel, OpenAIGPTModel  # noqa: E402

__all__ += [
    "CTRLLMHeadModel",
    "CTRLModel",
    "GPTNeoForCausalLM",
    "GPTNeoModel",
    "OpenAIGPTLMHeadModel",
    "OpenAIGPTModel",
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

from tfmodels.models.bert import BertForNextSentencePrediction, BertForPreTraining, BertLMHeadModel  # noqa: E402

__all__ += ["BertForNextSentencePrediction", "BertForPreTraining", "BertLMHeadModel"]

from tfmodels.models.t5 import *  # noqa: E402,F401,F403
from tfmodels.models import t5 as _t5  # noqa: E402

__all__ += _t5.__all__

from tfmodels.models.bart import *  # noqa: E402,F401,F403
from tfmodels.models import bart as _bart  # noqa: E402

__all__ += _bart.__all__

# --- Longformer (issue 14) ---------------------------------------------------
from tfmodels.models.longformer import *  # noqa: E402,F401,F403
from tfmodels.models import longformer as _longformer  # noqa: E402

__all__ += _longformer.__all__
# --- end Longformer ------------------------------------------------------------

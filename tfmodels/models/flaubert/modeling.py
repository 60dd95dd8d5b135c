"""FlauBERT: XLM with optional pre-norm blocks (`pre_norm`) and LayerDrop (`layerdrop`).

References:
    Le et al., "FlauBERT: Unsupervised Language Model Pre-training for
    French", LREC 2020. Parity reference:
    `transformers.models.flaubert.modeling_flaubert` (PyTorch).
"""


from tfmodels.models.base import PreTrainedModel
from tfmodels.models.heads import QuestionAnsweringMixin, TokenClassificationMixin
from tfmodels.models.summary_heads import (
    BeamQuestionAnsweringMixin,
    SummaryMultipleChoiceMixin,
    SummarySequenceClassificationMixin,
)
from tfmodels.models.xlm.modeling import XLMHeadAttributes, XLMModel, XLMWithLMHeadModel


class FlaubertModel(XLMModel):
    """`XLMModel` with FlauBERT's `pre_norm` (pre-norm blocks, no final LayerNorm)
    and `layerdrop` (training only) fields; see `XLMModel` for the arguments."""

    model_type = "flaubert"
    _own_fields = ("pre_norm", "layerdrop")


class FlaubertHeadAttributes(XLMHeadAttributes):
    model_type = "flaubert"
    backbone_class = FlaubertModel


class FlaubertForSequenceClassification(FlaubertHeadAttributes, SummarySequenceClassificationMixin, PreTrainedModel):
    """`transformers.FlaubertForSequenceClassification`."""


class FlaubertForTokenClassification(FlaubertHeadAttributes, TokenClassificationMixin, PreTrainedModel):
    """`transformers.FlaubertForTokenClassification`."""


class FlaubertForQuestionAnsweringSimple(FlaubertHeadAttributes, QuestionAnsweringMixin, PreTrainedModel):
    """`transformers.FlaubertForQuestionAnsweringSimple`."""


class FlaubertForQuestionAnswering(FlaubertHeadAttributes, BeamQuestionAnsweringMixin, PreTrainedModel):
    """`transformers.FlaubertForQuestionAnswering`: beam-search SQuAD head."""

    input_names = FlaubertModel.input_names + BeamQuestionAnsweringMixin.head_input_names


class FlaubertForMultipleChoice(FlaubertHeadAttributes, SummaryMultipleChoiceMixin, PreTrainedModel):
    """`transformers.FlaubertForMultipleChoice`."""


class FlaubertWithLMHeadModel(FlaubertHeadAttributes, XLMWithLMHeadModel):
    """`transformers.FlaubertWithLMHeadModel`."""

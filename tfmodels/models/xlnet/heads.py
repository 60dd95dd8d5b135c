"""XLNet task heads, assembled from the shared head mixins.

Sequence classification / multiple choice: `logits_proj(dropout(tanh(
summary(h[:, -1]))))`, where the summary is the backbone's `pooler`
(`SequenceSummary`) and `logits_proj` the mixin's `classifier`. Every head
passes the backbone's `mems` through.

References: `transformers.models.xlnet.modeling_xlnet` (`XLNet*`).
"""

import keras

from tfmodels.layers.heads import MaskedLMHead
from tfmodels.layers.losses import masked_sparse_categorical_crossentropy
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.heads import (
    HeadModelMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.memory import prepare_memory_inputs
from tfmodels.models.xlnet.modeling import XLNetModel


class XLNetPreTrainedModel(PreTrainedModel):
    """Base of the XLNet heads: the backbone lives in `self.transformer`."""

    model_type = "xlnet"
    base_model_prefix = "transformer"
    backbone_class = XLNetModel
    input_names = XLNetModel.input_names


class _XLNetHeadMixin:
    """XLNet's dropout before the classifier is `summary_last_dropout`; `mems` pass through."""

    classifier_dropout_in_head = True

    @property
    def classifier_dropout_rate(self):
        return self.backbone.config["summary_last_dropout"] if self.classifier_dropout_in_head else 0.0

    def _dense(self, units, name):
        init = hf_initializer(self.backbone.config["initializer_range"])
        return keras.layers.Dense(units, kernel_initializer=init, dtype=self.dtype_policy, name=name)

    def _prepare_inputs(self, inputs, kwargs=None):
        return prepare_memory_inputs(self, inputs, kwargs)

    @staticmethod
    def _passthrough(outputs, backbone_outputs):
        for key in ("mems", "hidden_states", "attentions"):
            if key in backbone_outputs:
                outputs[key] = backbone_outputs[key]
        return outputs


class XLNetForSequenceClassification(_XLNetHeadMixin, SequenceClassificationMixin, XLNetPreTrainedModel):
    """XLNet + sequence summary (last token) + `logits_proj`: `logits (batch, num_labels)`."""


class XLNetForMultipleChoice(_XLNetHeadMixin, MultipleChoiceMixin, XLNetPreTrainedModel):
    """XLNet scoring `(batch, num_choices, seq_len)` inputs: `logits (batch, num_choices)`."""


class XLNetForTokenClassification(_XLNetHeadMixin, TokenClassificationMixin, XLNetPreTrainedModel):
    """XLNet + per-token linear classifier (no dropout): `logits (batch, seq_len, num_labels)`."""

    classifier_dropout_in_head = False


class XLNetForQuestionAnsweringSimple(_XLNetHeadMixin, QuestionAnsweringMixin, XLNetPreTrainedModel):
    """XLNet + span head: `start_logits`, `end_logits` `(batch, seq_len)`."""


class XLNetLMHeadModel(_XLNetHeadMixin, HeadModelMixin, XLNetPreTrainedModel):
    """XLNet + LM head tied to the word embeddings: `logits (batch, seq_len or num_predict, vocab_size)`.

    With `labels` (same shape as the logits' first two axes; -100 ignored)
    the loss is the token cross-entropy.
    """

    label_names = ("labels",)
    serving_outputs = ("logits",)
    backbone_kwargs = {"add_pooling_layer": False}

    def __init__(self, **kwargs):
        self._init_backbone(kwargs)
        self.config = {}
        self.lm_head = MaskedLMHead(  # projection + bias only (`lm_loss`)
            self.backbone.config["vocab_size"], self.backbone.config["d_model"], transform=False,
            tie_word_embeddings=self.backbone.extra_config.get("tie_word_embeddings", True),
            kernel_initializer=hf_initializer(self.backbone.config["initializer_range"]),
            dtype=self.dtype_policy, name="lm_head",
        )

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self.lm_head(backbone_outputs["last_hidden_state"],
                              embedding_matrix=self.backbone.word_embedding.embeddings)
        return self._passthrough({"logits": logits}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return masked_sparse_categorical_crossentropy(labels["labels"], outputs["logits"], sample_weight=sample_weight)

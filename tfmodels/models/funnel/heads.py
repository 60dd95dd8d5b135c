"""Funnel task heads, assembled from the shared head mixins.

Sequence classification and multiple choice run on `FunnelBaseModel` (no
decoder) and use `FunnelClassificationHead` = `linear_out(dropout(tanh(
linear_hidden(h[:, 0]))))`: here `linear_hidden` + tanh is the backbone's
`pooler`, `linear_out` the mixin's `classifier`. The other heads run on
`FunnelModel`.

References: `transformers.models.funnel.modeling_funnel` (`FunnelFor*`).
"""

import keras
from keras import ops

from tfmodels.layers.activations import get_activation
from tfmodels.layers.heads import MaskedLMHead
from tfmodels.layers.losses import binary_crossentropy
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.funnel.modeling import FunnelBaseModel, FunnelModel
from tfmodels.models.heads import (
    HeadModelMixin,
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)


class FunnelPreTrainedModel(PreTrainedModel):
    """Base of the Funnel heads on the full model (backbone in `self.funnel`)."""

    model_type = "funnel"
    base_model_prefix = "funnel"
    backbone_class = FunnelModel
    input_names = FunnelBaseModel.input_names


class FunnelBasePreTrainedModel(FunnelPreTrainedModel):
    """Base of the Funnel heads on the encoder only (`FunnelBaseModel`)."""

    backbone_class = FunnelBaseModel


class _FunnelHeadMixin:
    """Funnel names its dropout `hidden_dropout` (BERT: `hidden_dropout_prob`)."""

    @property
    def classifier_dropout_rate(self):
        return self.backbone.config["hidden_dropout"]

    def _dense(self, units, name):
        return keras.layers.Dense(units, dtype=self.dtype_policy, name=name)


class FunnelForSequenceClassification(_FunnelHeadMixin, SequenceClassificationMixin, FunnelBasePreTrainedModel):
    """Funnel encoder + two-layer classification head on the first token.

    Returns: dict with `logits` `(batch, num_labels)` (and `loss` with `labels`).
    """


class FunnelForMultipleChoice(_FunnelHeadMixin, MultipleChoiceMixin, FunnelBasePreTrainedModel):
    """Funnel encoder scoring `(batch, num_choices, seq_len)` inputs: `logits (batch, num_choices)`."""


class FunnelForTokenClassification(_FunnelHeadMixin, TokenClassificationMixin, FunnelPreTrainedModel):
    """Full Funnel model + per-token linear classifier: `logits (batch, seq_len, num_labels)`."""


class FunnelForQuestionAnswering(_FunnelHeadMixin, QuestionAnsweringMixin, FunnelPreTrainedModel):
    """Full Funnel model + span head: `start_logits`, `end_logits` `(batch, seq_len)`."""


class FunnelForMaskedLM(_FunnelHeadMixin, MaskedLMMixin, FunnelPreTrainedModel):
    """Full Funnel model + linear LM head tied to the word embeddings: `logits (batch, seq_len, vocab_size)`."""

    def _make_lm_head(self):
        config = self.backbone.config
        self.lm_head = MaskedLMHead(  # projection + bias only (`nn.Linear(d_model, vocab_size)`)
            config["vocab_size"], config["d_model"], transform=False,
            tie_word_embeddings=self.backbone.extra_config.get("tie_word_embeddings", True),
            dtype=self.dtype_policy, name="lm_head",
        )

    def _lm_logits(self, hidden_states):
        return self.lm_head(hidden_states, embedding_matrix=self.backbone.embeddings.word_embeddings.embeddings)


class FunnelForPreTraining(_FunnelHeadMixin, HeadModelMixin, FunnelPreTrainedModel):
    """Full Funnel model + ELECTRA-style discriminator: `logits (batch, seq_len)`.

    With `labels` (1 = replaced token) the loss is binary cross-entropy over
    the tokens where `attention_mask` is 1.
    """

    label_names = ("labels",)
    loss_input_names = ("attention_mask",)
    serving_outputs = ("logits",)
    backbone_kwargs = {"add_pooling_layer": False}

    def __init__(self, **kwargs):
        self._init_backbone(kwargs)
        self.config = {}
        self.discriminator_dense = self._dense(self.backbone.config["d_model"], "discriminator_dense")
        self.discriminator_prediction = self._dense(1, "discriminator_prediction")
        self._activation = get_activation(self.backbone.config["hidden_act"])

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        hidden = self._activation(self.discriminator_dense(backbone_outputs["last_hidden_state"]))
        logits = ops.squeeze(self.discriminator_prediction(hidden), -1)  # (batch, seq_len)
        return self._passthrough({"logits": logits}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return binary_crossentropy(labels["labels"], outputs["logits"], labels.get("attention_mask"), sample_weight)

"""RoFormer: BERT-style encoder with rotary position embedding.

References:
    Su et al., "RoFormer: Enhanced Transformer with Rotary Position
    Embedding", 2021. Parity reference:
    `transformers.models.roformer.modeling_roformer` (PyTorch).
"""

import keras

from tfmodels.layers import Pooler, TransformerEmbeddings
from tfmodels.layers.attention.rotary_attention import RotaryEncoderBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, run_encoder_layers, stack_outputs
from tfmodels.models.bert.modeling import attention_mask_to_bool, check_sequence_length
from tfmodels.models.heads import (
    MaskedLMMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    SummaryMultipleChoiceMixin,
    TokenClassificationMixin,
)


@keras.saving.register_keras_serializable(package="tfmodels")
class RoFormerModel(PreTrainedModel):
    """The RoFormer encoder: word + token-type embeddings (no absolute
    positions), optional projection to `hidden_size`, post-norm blocks with
    rotary attention.

    Constructor arguments are the fields of a Hugging Face `RoFormerConfig`
    (`embedding_size=None` means `hidden_size`; `rotary_value` also rotates
    the values). `add_pooling_layer=True` (sequence classification) adds the
    `dense + hidden_act` part of `RoFormerClassificationHead` as
    `pooler_output`.

    Call inputs: `input_ids`, `attention_mask`, `token_type_ids` (int
    `(batch, seq_len)`, `seq_len <= max_position_embeddings`).

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`, and when
        asked `hidden_states` and `attentions` (`(batch, heads, seq_len, seq_len)`).
    """

    model_type = "roformer"
    input_names = ("input_ids", "attention_mask", "token_type_ids")
    serving_outputs = ("last_hidden_state",)

    def __init__(
        self,
        vocab_size=50000,
        embedding_size=None,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=1536,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        rotary_value=False,
        add_pooling_layer=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_attention_heads:
            raise ValueError(
                "hidden_size must be a multiple of num_attention_heads. "
                f"Received: hidden_size={hidden_size}, num_attention_heads={num_attention_heads}"
            )
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.add_pooling_layer = add_pooling_layer
        embedding_size = embedding_size or hidden_size
        init = hf_initializer(initializer_range)
        policy = dict(dtype=self.dtype_policy)
        self.embeddings = TransformerEmbeddings(
            vocab_size=vocab_size, hidden_size=embedding_size, max_position_embeddings=None,
            type_vocab_size=type_vocab_size, layer_norm_eps=layer_norm_eps, dropout=hidden_dropout_prob,
            initializer_range=initializer_range, name="embeddings", **policy,
        )
        self.embeddings_project = None
        if embedding_size != hidden_size:
            self.embeddings_project = keras.layers.Dense(hidden_size, kernel_initializer=init,
                                                         name="embeddings_project", **policy)
        self.encoder_layers = [
            RotaryEncoderBlock(
                max_position_embeddings=max_position_embeddings,
                rotary_value=rotary_value,
                num_heads=num_attention_heads,
                intermediate_size=intermediate_size,
                hidden_act=hidden_act,
                hidden_dropout=hidden_dropout_prob,
                attention_dropout=attention_probs_dropout_prob,
                layer_norm_eps=layer_norm_eps,
                kernel_initializer=init,
                name=f"encoder_layer_{i}",
                **policy,
            )
            for i in range(num_hidden_layers)
        ]
        self.pooler = self.pooler_dropout = None
        if add_pooling_layer:
            self.pooler_dropout = keras.layers.Dropout(hidden_dropout_prob, **policy)
            self.pooler = Pooler(hidden_size, activation=hidden_act, kernel_initializer=init, name="pooler", **policy)

    def _constructor_only_config(self):
        return {"add_pooling_layer": self.add_pooling_layer}

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        input_ids = inputs["input_ids"]
        check_sequence_length(input_ids, self.config["max_position_embeddings"], type(self).__name__)
        x = self.embeddings(input_ids, token_type_ids=inputs.get("token_type_ids"), training=training)
        if self.embeddings_project is not None:
            x = self.embeddings_project(x)
        mask = attention_mask_to_bool(inputs.get("attention_mask"))
        x, hidden_states, attentions = run_encoder_layers(
            self.encoder_layers, x, output_attentions, training, attention_mask=mask)
        outputs = {"last_hidden_state": x}
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(self.pooler_dropout(x, training=training))
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions)


class RoFormerPreTrainedModel(PreTrainedModel):
    """Base of the RoFormer head models: the backbone lives in `self.roformer`."""

    model_type = "roformer"
    base_model_prefix = "roformer"
    backbone_class = RoFormerModel
    input_names = RoFormerModel.input_names


@keras.saving.register_keras_serializable(package="tfmodels")
class RoFormerForSequenceClassification(SequenceClassificationMixin, RoFormerPreTrainedModel):
    """RoFormer with `RoFormerClassificationHead` (first token, dropout, dense +
    `hidden_act`, dropout, `out_proj`): the dense part is the backbone's pooler.

    References: `transformers.RoFormerForSequenceClassification`.
    """


@keras.saving.register_keras_serializable(package="tfmodels")
class RoFormerForTokenClassification(TokenClassificationMixin, RoFormerPreTrainedModel):
    """RoFormer with a per-token linear classifier.

    References: `transformers.RoFormerForTokenClassification`.
    """


@keras.saving.register_keras_serializable(package="tfmodels")
class RoFormerForQuestionAnswering(QuestionAnsweringMixin, RoFormerPreTrainedModel):
    """RoFormer with a span head (`start_logits`, `end_logits`).

    References: `transformers.RoFormerForQuestionAnswering`.
    """


@keras.saving.register_keras_serializable(package="tfmodels")
class RoFormerForMaskedLM(MaskedLMMixin, RoFormerPreTrainedModel):
    """RoFormer with the BERT-style masked-LM head, tied to the word embeddings.

    References: `transformers.RoFormerForMaskedLM`.
    """


@keras.saving.register_keras_serializable(package="tfmodels")
class RoFormerForMultipleChoice(SummaryMultipleChoiceMixin, RoFormerPreTrainedModel):
    """RoFormer with `RoFormerSequenceSummary` (the last token: the config has no
    `summary_*` fields) and a linear `classifier` to one logit per choice;
    inputs `(batch, num_choices, seq_len)`, `logits (batch, num_choices)`.

    References: `transformers.RoFormerForMultipleChoice`.
    """

    choice_projection = "classifier"

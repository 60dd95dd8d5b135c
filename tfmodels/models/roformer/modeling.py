"""RoFormer: BERT-style encoder with rotary position embedding.

References:
    Su et al., "RoFormer: Enhanced Transformer with Rotary Position
    Embedding", 2021. Parity reference:
    `transformers.models.roformer.modeling_roformer` (PyTorch).
"""


from tfmodels.layers.attention.rotary_attention import RotaryEncoderBlock
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.encoder import EncoderModel
from tfmodels.models.heads import (
    MaskedLMMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.summary_heads import SummaryMultipleChoiceMixin


class RoFormerModel(EncoderModel):
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
        super().__init__(add_pooling_layer=add_pooling_layer, **kwargs)
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self._build_from_bert_fields(
            embedding_size=embedding_size, position_embeddings=False, pooler_activation=hidden_act,
            pooler_dropout=hidden_dropout_prob,
        )

    def _make_encoder_layer(self, index):
        return RotaryEncoderBlock(
            max_position_embeddings=self.config["max_position_embeddings"], rotary_value=self.config["rotary_value"],
            **self._block_kwargs, dtype=self.dtype_policy, name=f"encoder_layer_{index}",
        )

    def _embed(self, inputs, training):
        return self.embeddings(inputs["input_ids"], token_type_ids=inputs.get("token_type_ids"), training=training)


class RoFormerPreTrainedModel(PreTrainedModel):
    """Base of the RoFormer head models: the backbone lives in `self.roformer`."""

    model_type = "roformer"
    base_model_prefix = "roformer"
    backbone_class = RoFormerModel
    input_names = RoFormerModel.input_names


class RoFormerForSequenceClassification(SequenceClassificationMixin, RoFormerPreTrainedModel):
    """RoFormer with `RoFormerClassificationHead` (first token, dropout, dense +
    `hidden_act`, dropout, `out_proj`): the dense part is the backbone's pooler.

    References: `transformers.RoFormerForSequenceClassification`.
    """


class RoFormerForTokenClassification(TokenClassificationMixin, RoFormerPreTrainedModel):
    """RoFormer with a per-token linear classifier.

    References: `transformers.RoFormerForTokenClassification`.
    """


class RoFormerForQuestionAnswering(QuestionAnsweringMixin, RoFormerPreTrainedModel):
    """RoFormer with a span head (`start_logits`, `end_logits`).

    References: `transformers.RoFormerForQuestionAnswering`.
    """


class RoFormerForMaskedLM(MaskedLMMixin, RoFormerPreTrainedModel):
    """RoFormer with the BERT-style masked-LM head, tied to the word embeddings.

    References: `transformers.RoFormerForMaskedLM`.
    """


class RoFormerForMultipleChoice(SummaryMultipleChoiceMixin, RoFormerPreTrainedModel):
    """RoFormer with `RoFormerSequenceSummary` (the last token: the config has no
    `summary_*` fields) and a linear `classifier` to one logit per choice;
    inputs `(batch, num_choices, seq_len)`, `logits (batch, num_choices)`.

    References: `transformers.RoFormerForMultipleChoice`.
    """

    choice_projection = "classifier"

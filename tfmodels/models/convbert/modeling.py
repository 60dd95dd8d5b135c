"""ConvBERT: BERT-style encoder with mixed attention / span-based dynamic convolution.

References:
    Jiang et al., "ConvBERT: Improving BERT with Span-based Dynamic
    Convolution", NeurIPS 2020. Parity reference:
    `transformers.models.convbert.modeling_convbert` (PyTorch).
"""


from tfmodels.layers.attention.span_conv_attention import SpanConvEncoderBlock
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.encoder import EncoderModel
from tfmodels.models.heads import (
    MaskedLMMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.summary_heads import SummaryMultipleChoiceMixin


class ConvBertModel(EncoderModel):
    """The ConvBERT encoder: BERT embeddings (width `embedding_size`, projected
    to `hidden_size`), post-norm `SpanConvEncoderBlock`s.

    Constructor arguments are the fields of a Hugging Face `ConvBertConfig`
    (`head_ratio`, `conv_kernel_size`, `num_groups` included).
    `add_pooling_layer=True` (sequence classification) adds the `dense +
    hidden_act` part of `ConvBertClassificationHead` as `pooler_output`.

    Call inputs: `input_ids`, `attention_mask`, `token_type_ids`,
    `position_ids` (int `(batch, seq_len)`).

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`, and when
        asked `hidden_states` and `attentions` (`(batch, heads // head_ratio, seq_len, seq_len)`).
    """

    model_type = "convbert"
    serving_outputs = ("last_hidden_state",)

    def __init__(
        self,
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=1,
        embedding_size=768,
        head_ratio=2,
        conv_kernel_size=9,
        num_groups=1,
        classifier_dropout=None,
        add_pooling_layer=False,
        **kwargs,
    ):
        super().__init__(add_pooling_layer=add_pooling_layer, **kwargs)
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self._build_from_bert_fields(
            embedding_size=embedding_size, pooler_activation=hidden_act,
            pooler_dropout=hidden_dropout_prob if classifier_dropout is None else classifier_dropout,
        )

    def _make_encoder_layer(self, index):
        return SpanConvEncoderBlock(
            head_ratio=self.config["head_ratio"], conv_kernel_size=self.config["conv_kernel_size"],
            num_groups=self.config["num_groups"], **self._block_kwargs, dtype=self.dtype_policy,
            name=f"encoder_layer_{index}",
        )


class ConvBertPreTrainedModel(PreTrainedModel):
    """Base of the ConvBERT head models: the backbone lives in `self.convbert`."""

    model_type = "convbert"
    base_model_prefix = "convbert"
    backbone_class = ConvBertModel


class ConvBertForSequenceClassification(SequenceClassificationMixin, ConvBertPreTrainedModel):
    """ConvBERT with `ConvBertClassificationHead` (first token, dropout, dense +
    `hidden_act`, dropout, `out_proj`); its dense part is the backbone's pooler.

    References: `transformers.ConvBertForSequenceClassification`.
    """


class ConvBertForTokenClassification(TokenClassificationMixin, ConvBertPreTrainedModel):
    """ConvBERT with a per-token linear classifier.

    References: `transformers.ConvBertForTokenClassification`.
    """


class ConvBertForQuestionAnswering(QuestionAnsweringMixin, ConvBertPreTrainedModel):
    """ConvBERT with a span head (`start_logits`, `end_logits`).

    References: `transformers.ConvBertForQuestionAnswering`.
    """


class ConvBertForMaskedLM(MaskedLMMixin, ConvBertPreTrainedModel):
    """ConvBERT with the generator head (dense + gelu + LayerNorm at
    `embedding_size`, decoder tied to the word embeddings).

    References: `transformers.ConvBertForMaskedLM`.
    """

    lm_head_activation = "gelu"  # fixed in the reference, whatever `hidden_act` says


class ConvBertForMultipleChoice(SummaryMultipleChoiceMixin, ConvBertPreTrainedModel):
    """ConvBert with `ConvBertSequenceSummary` (the last token: the config has no
    `summary_*` fields) and a linear `classifier` to one logit per choice;
    inputs `(batch, num_choices, seq_len)`, `logits (batch, num_choices)`.

    References: `transformers.ConvBertForMultipleChoice`.
    """

    choice_projection = "classifier"

"""BERT: the backbone and its task heads.

References:
    Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for
    Language Understanding", NAACL 2019.
    Parity reference: `transformers.models.bert.modeling_bert` (PyTorch).
"""


from tfmodels.models.base import PreTrainedModel
from tfmodels.models.causal import EncoderCausalLMMixin
from tfmodels.models.encoder import EncoderModel, attention_mask_to_bool, check_sequence_length  # noqa: F401
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.pretraining_heads import NextSentencePredictionMixin, PreTrainingMixin
from tfmodels.models.seq2seq import CROSS_ATTENTION_INPUTS


class BertModel(EncoderModel):
    """The BERT encoder: embeddings, `num_hidden_layers` post-norm blocks, pooler.

    Constructor arguments are the fields of a Hugging Face BERT `config.json`.

    Args:
        vocab_size: int, tokens in the vocabulary.
        hidden_size: int, model width `D`.
        num_hidden_layers: int, encoder blocks.
        num_attention_heads: int, heads per block (`D` must divide evenly).
        intermediate_size: int, feed-forward width.
        hidden_act: str, Hugging Face activation name.
        hidden_dropout_prob: float, dropout on embeddings and block outputs.
        attention_probs_dropout_prob: float, dropout on attention probabilities.
        max_position_embeddings: int, longest sequence accepted.
        type_vocab_size: int, number of token types (segments).
        initializer_range: float, stddev of the normal weight initialiser.
        layer_norm_eps: float, LayerNorm epsilon.
        pad_token_id: int, id of the padding token (kept for the config).
        position_embedding_type: only `"absolute"` is supported.
        add_pooling_layer: bool, build the tanh pooler (`pooler_output`).
        **kwargs: other Hugging Face fields (kept in `extra_config`) and Keras
            arguments (`name`, `dtype`).

    Call inputs (dict or keywords; int32/int64 `(batch, seq_len)`):
        input_ids: token ids.
        attention_mask: 1 for real tokens, 0 for padding; all ones if absent.
            A 3-D `(batch, seq_len, seq_len)` mask is also accepted.
        token_type_ids: segment ids; zeros if absent.
        position_ids: positions; `arange(seq_len)` if absent.
        encoder_hidden_states: float `(batch, source_len, hidden_size)`, the
            states cross-attention reads (config `is_decoder=True`,
            `add_cross_attention=True` only).
        encoder_attention_mask: `(batch, source_len)`, 0 on encoder padding.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`,
        `pooler_output` `(batch, hidden_size)` (with a pooler), and, when asked,
        `hidden_states` (tuple of `num_hidden_layers + 1` tensors
        `(batch, seq_len, hidden_size)`) and `attentions` (tuple of
        `(batch, num_heads, seq_len, seq_len)`) and, with encoder states,
        `cross_attentions` (tuple of `(batch, num_heads, seq_len, source_len)`).

    Raises:
        ValueError: for unsupported `position_embedding_type`, a sequence
            longer than `max_position_embeddings`, missing `input_ids`,
            `add_cross_attention=True` without `is_decoder=True`, or
            `encoder_hidden_states` without cross-attention layers.
        TypeError: for float ids or unknown input names.
    """

    model_type = "bert"
    serving_outputs = ("last_hidden_state", "pooler_output")
    decoder_capable = True  # `is_decoder=True`: causal self-attention (BertLMHeadModel)
    cross_attention_capable = True  # `add_cross_attention=True`: the `crossattention` sub-layers
    input_names = EncoderModel.input_names + CROSS_ATTENTION_INPUTS

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
        pad_token_id=0,
        position_embedding_type="absolute",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        self._build_from_bert_fields(**self._architecture_options())

    def _architecture_options(self):
        """Extra `_build_encoder` arguments; the override point for relatives with BERT's config fields."""
        return {}


class BertPreTrainedModel(PreTrainedModel):
    """Base of the BERT head models: the backbone lives in `self.bert`."""

    model_type = "bert"
    base_model_prefix = "bert"
    backbone_class = BertModel


class BertForSequenceClassification(SequenceClassificationMixin, BertPreTrainedModel):
    """BERT with a linear classifier on the pooled output.

    Args: the `BertModel` fields plus `num_labels` / `id2label` / `label2id`,
    `problem_type` and `classifier_dropout`.

    Returns:
        dict with `logits` `(batch, num_labels)` and `loss` when `labels` is given.

    References: `transformers.BertForSequenceClassification`.
    """


class BertForTokenClassification(TokenClassificationMixin, BertPreTrainedModel):
    """BERT with a per-token linear classifier.

    Returns:
        dict with `logits` `(batch, seq_len, num_labels)` and `loss` when
        `labels` `(batch, seq_len)` is given (-100 entries ignored).

    References: `transformers.BertForTokenClassification`.
    """


class BertForQuestionAnswering(QuestionAnsweringMixin, BertPreTrainedModel):
    """BERT with a span head (extractive question answering).

    Returns:
        dict with `start_logits`, `end_logits` `(batch, seq_len)` and `loss`
        when `start_positions` and `end_positions` `(batch,)` are given.

    References: `transformers.BertForQuestionAnswering`.
    """


class BertForMultipleChoice(MultipleChoiceMixin, BertPreTrainedModel):
    """BERT scoring each of `num_choices` sequences.

    Call inputs are `(batch, num_choices, seq_len)`.

    Returns:
        dict with `logits` `(batch, num_choices)` and `loss` when `labels`
        `(batch,)` is given.

    References: `transformers.BertForMultipleChoice`.
    """


class BertForMaskedLM(MaskedLMMixin, BertPreTrainedModel):
    """BERT with the masked-LM head, output projection tied to the word embeddings.

    Returns:
        dict with `logits` `(batch, seq_len, vocab_size)` and `loss` when
        `labels` `(batch, seq_len)` is given (-100 entries ignored).

    References: `transformers.BertForMaskedLM`.
    """


class BertLMHeadModel(EncoderCausalLMMixin, BertPreTrainedModel):
    """BERT as a causal LM (config `is_decoder=True`): causal self-attention + the `cls.predictions` head.

    Returns:
        dict with `logits` `(batch, seq_len, vocab_size)` and `loss` when
        `labels` `(batch, seq_len)` is given (next-token, -100 ignored).
        `generate()` decodes over a KV cache (XLA-compiled), as `CausalLMMixin`.

    References: `transformers.BertLMHeadModel`.
    """


class BertForNextSentencePrediction(NextSentencePredictionMixin, BertPreTrainedModel):
    """BERT + `cls.seq_relationship` on the pooled output; `logits (batch, 2)`.

    References: `transformers.BertForNextSentencePrediction`.
    """


class BertForPreTraining(PreTrainingMixin, BertPreTrainedModel):
    """BERT + `cls.predictions` (masked LM) + `cls.seq_relationship` (next sentence).

    Returns:
        dict with `prediction_logits` `(batch, seq_len, vocab_size)`,
        `seq_relationship_logits` `(batch, 2)` and, with `labels` and
        `next_sentence_label`, `loss` (sum of both cross-entropies).

    References: `transformers.BertForPreTraining`.
    """

    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "num_labels": 2, "id2label": None, "label2id": None})

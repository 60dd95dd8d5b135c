"""BERT: the backbone and its task heads.

References:
    Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for
    Language Understanding", NAACL 2019.
    Parity reference: `transformers.models.bert.modeling_bert` (PyTorch).
"""

import keras
import tensorflow as tf
from keras import ops

from tfmodels.layers import MaskedLMHead, Pooler, TransformerEmbeddings, TransformerEncoderBlock, padding_mask
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, stack_outputs
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)


def check_sequence_length(input_ids, max_position_embeddings, model_name):
    """Raises a clear error for sequences longer than the position table.

    Checked when the length is static (always in eager mode); in graphs with
    a dynamic length, an in-graph assertion carries the same message.

    Raises:
        ValueError: if `seq_len > max_position_embeddings`.
    """
    message = (
        f"{model_name} accepts at most max_position_embeddings={max_position_embeddings} tokens "
        "per sequence. Truncate the input, e.g. tokenizer(..., truncation=True, "
        f"max_length={max_position_embeddings})."
    )
    seq_len = input_ids.shape[1]
    if seq_len is not None:
        if seq_len > max_position_embeddings:
            raise ValueError(f"{message} Received: sequence length {seq_len}.")
        return
    tf.debugging.assert_less_equal(tf.shape(input_ids)[1], max_position_embeddings, message=message)


def attention_mask_to_bool(attention_mask):
    """`(batch, key_len)` -> `(batch, 1, 1, key_len)`; `(batch, q, k)` -> `(batch, 1, q, k)`."""
    if attention_mask is None:
        return None
    if len(attention_mask.shape) == 3:
        return ops.not_equal(attention_mask, 0)[:, None, :, :]
    return padding_mask(attention_mask)


@keras.saving.register_keras_serializable(package="tfmodels")
class BertModel(PreTrainedModel):
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

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`,
        `pooler_output` `(batch, hidden_size)` (with a pooler), and, when asked,
        `hidden_states` (tuple of `num_hidden_layers + 1` tensors
        `(batch, seq_len, hidden_size)`) and `attentions` (tuple of
        `(batch, num_heads, seq_len, seq_len)`).

    Raises:
        ValueError: for unsupported `position_embedding_type`, a sequence
            longer than `max_position_embeddings`, or missing `input_ids`.
        TypeError: for float ids or unknown input names.
    """

    model_type = "bert"
    serving_outputs = ("last_hidden_state", "pooler_output")

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
        add_pooling_layer=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if position_embedding_type != "absolute":
            raise ValueError(
                "BertModel supports position_embedding_type='absolute' only. "
                f"Received: position_embedding_type={position_embedding_type!r}"
            )
        if hidden_size % num_attention_heads:
            raise ValueError(
                "hidden_size must be a multiple of num_attention_heads. "
                f"Received: hidden_size={hidden_size}, num_attention_heads={num_attention_heads}"
            )
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.add_pooling_layer = add_pooling_layer
        init = hf_initializer(initializer_range)
        self.embeddings = TransformerEmbeddings(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            max_position_embeddings=max_position_embeddings,
            type_vocab_size=type_vocab_size,
            layer_norm_eps=layer_norm_eps,
            dropout=hidden_dropout_prob,
            initializer_range=initializer_range,
            dtype=self.dtype_policy,
            name="embeddings",
        )
        self.encoder_layers = [self._make_encoder_layer(i) for i in range(num_hidden_layers)]
        self.pooler = (
            Pooler(hidden_size, kernel_initializer=init, dtype=self.dtype_policy, name="pooler")
            if add_pooling_layer else None
        )

    def _make_encoder_layer(self, index):
        """Block `index` from `self.config`; the override point for relatives (SqueezeBERT)."""
        config = self.config
        return TransformerEncoderBlock(
            num_heads=config["num_attention_heads"],
            intermediate_size=config["intermediate_size"],
            hidden_act=config["hidden_act"],
            hidden_dropout=config["hidden_dropout_prob"],
            attention_dropout=config["attention_probs_dropout_prob"],
            layer_norm_eps=config["layer_norm_eps"],
            kernel_initializer=hf_initializer(config["initializer_range"]),
            dtype=self.dtype_policy,
            name=f"encoder_layer_{index}",
        )

    def _constructor_only_config(self):
        return {"add_pooling_layer": self.add_pooling_layer}

    def _embed(self, inputs, training):
        """`(batch, seq_len, hidden_size)` embeddings; the override point for relatives (LayoutLM)."""
        return self.embeddings(
            inputs["input_ids"],
            token_type_ids=inputs.get("token_type_ids"),
            position_ids=inputs.get("position_ids"),
            training=training,
        )

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        input_ids = inputs["input_ids"]
        if "position_ids" not in inputs:
            check_sequence_length(input_ids, self.config["max_position_embeddings"], type(self).__name__)
        x = self._embed(inputs, training)
        mask = attention_mask_to_bool(inputs.get("attention_mask"))
        hidden_states, attentions = [x], []
        for layer in self.encoder_layers:
            x = layer(x, attention_mask=mask, return_attention_scores=output_attentions, training=training)
            if output_attentions:
                x, probs = x
                attentions.append(probs)
            hidden_states.append(x)
        outputs = {"last_hidden_state": x}
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(x)
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions)


class BertPreTrainedModel(PreTrainedModel):
    """Base of the BERT head models: the backbone lives in `self.bert`."""

    model_type = "bert"
    base_model_prefix = "bert"
    backbone_class = BertModel


@keras.saving.register_keras_serializable(package="tfmodels")
class BertForSequenceClassification(SequenceClassificationMixin, BertPreTrainedModel):
    """BERT with a linear classifier on the pooled output.

    Args: the `BertModel` fields plus `num_labels` / `id2label` / `label2id`,
    `problem_type` and `classifier_dropout`.

    Returns:
        dict with `logits` `(batch, num_labels)` and `loss` when `labels` is given.

    References: `transformers.BertForSequenceClassification`.
    """


@keras.saving.register_keras_serializable(package="tfmodels")
class BertForTokenClassification(TokenClassificationMixin, BertPreTrainedModel):
    """BERT with a per-token linear classifier.

    Returns:
        dict with `logits` `(batch, seq_len, num_labels)` and `loss` when
        `labels` `(batch, seq_len)` is given (-100 entries ignored).

    References: `transformers.BertForTokenClassification`.
    """


@keras.saving.register_keras_serializable(package="tfmodels")
class BertForQuestionAnswering(QuestionAnsweringMixin, BertPreTrainedModel):
    """BERT with a span head (extractive question answering).

    Returns:
        dict with `start_logits`, `end_logits` `(batch, seq_len)` and `loss`
        when `start_positions` and `end_positions` `(batch,)` are given.

    References: `transformers.BertForQuestionAnswering`.
    """


@keras.saving.register_keras_serializable(package="tfmodels")
class BertForMultipleChoice(MultipleChoiceMixin, BertPreTrainedModel):
    """BERT scoring each of `num_choices` sequences.

    Call inputs are `(batch, num_choices, seq_len)`.

    Returns:
        dict with `logits` `(batch, num_choices)` and `loss` when `labels`
        `(batch,)` is given.

    References: `transformers.BertForMultipleChoice`.
    """


@keras.saving.register_keras_serializable(package="tfmodels")
class BertForMaskedLM(MaskedLMMixin, BertPreTrainedModel):
    """BERT with the masked-LM head, output projection tied to the word embeddings.

    Returns:
        dict with `logits` `(batch, seq_len, vocab_size)` and `loss` when
        `labels` `(batch, seq_len)` is given (-100 entries ignored).

    References: `transformers.BertForMaskedLM`.
    """

    def _make_lm_head(self):
        config = self.backbone.config
        self.lm_head = MaskedLMHead(
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            hidden_act=config["hidden_act"],
            layer_norm_eps=config["layer_norm_eps"],
            tie_word_embeddings=self.backbone.extra_config.get("tie_word_embeddings", True),
            kernel_initializer=hf_initializer(config["initializer_range"]),
            dtype=self.dtype_policy,
            name="lm_head",
        )

    def _lm_logits(self, hidden_states):
        return self.lm_head(hidden_states, embedding_matrix=self.backbone.embeddings.word_embeddings.embeddings)

"""Longformer: RoBERTa with sliding-window + global attention, for long documents.

Inside the model the inputs are padded to a multiple of the largest
`attention_window` (ids with `pad_token_id`, explicit positions with
`pad_token_id`, token types with 0, masks with 0) and every output is cut
back to the input length, as in the reference (`global_attentions` keep the
padded length there, and here). The heads put global attention where the
reference does when no `global_attention_mask` is given: on `<s>` for
sequence classification, on the question (before the first `sep_token_id`)
for question answering, after the question for multiple choice.

Global attention in a compiled graph: the number of global tokens decides
the width of the attention tensors, so it must be static under XLA. Eager
calls use the exact number (the reference's shapes); set
`max_global_tokens` (a constructor argument, e.g.
`from_pretrained(path, max_global_tokens=16)`) to fix it, in eager mode and
in graphs alike; a graph without it makes room for every token being global
(correct, but memory then grows as `seq_len ** 2` in the global part).

References:
    Beltagy et al., "Longformer: The Long-Document Transformer", 2020.
    Parity reference: `transformers.models.longformer.modeling_longformer` (PyTorch).
"""

import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.layers.attention.longformer_attention import LongformerEncoderBlock
from tfmodels.models.base import PreTrainedModel, run_encoder_layers, stack_outputs
from tfmodels.models.encoder import BERT_FIELDS, EncoderModel, check_sequence_length
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)

INPUT_NAMES = ("input_ids", "attention_mask", "global_attention_mask", "token_type_ids", "position_ids")


class LongformerModel(EncoderModel):
    """The Longformer encoder: RoBERTa embeddings, `LongformerEncoderBlock`s, pooler.

    Args: the fields of a Hugging Face Longformer `config.json` (BERT's
    fields, plus):
        attention_window: int or list of ints (one per layer), even: the
            window `2w` of each layer.
        pad_token_id: int, padding id (positions count from `pad_token_id + 1`).
        sep_token_id, bos_token_id, eos_token_id: special token ids (the
            question-answering and multiple-choice heads find the question with
            `sep_token_id`).
        max_global_tokens: optional int (not a config field): the global slots
            every layer computes, at least the largest number of global tokens
            of an example; static shapes under XLA (module docstring).
        add_pooling_layer: bool, build the tanh pooler.

    Call inputs (dict or keywords; int `(batch, seq_len)`): `input_ids`,
    `attention_mask` (1 = token, 0 = padding), `global_attention_mask` (1 =
    global attention), `token_type_ids`, `position_ids`.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`,
        `pooler_output` `(batch, hidden_size)` (with a pooler), and when asked
        `hidden_states` (`num_hidden_layers + 1` tensors), `attentions` (per
        layer `(batch, heads, seq_len, G + attention_window + 1)`: the global
        keys then the window) and, with global tokens, `global_attentions`
        (per layer `(batch, heads, padded_len, G)`), `G` the global slots.

    Raises:
        ValueError: an odd or non-positive window, a window list of another
            length than `num_hidden_layers`, a mask that is not `(batch,
            seq_len)`, more global tokens than `max_global_tokens`, or a
            sequence longer than the position table.
    """

    model_type = "longformer"
    input_names = INPUT_NAMES
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
        attention_window=512,
        pad_token_id=1,
        sep_token_id=2,
        bos_token_id=0,
        eos_token_id=2,
        max_global_tokens=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals(), exclude=("max_global_tokens",))
        self.attention_windows = attention_windows(attention_window, num_hidden_layers)
        self.max_global_tokens = check_max_global_tokens(max_global_tokens)
        self._build_encoder(**{name: self.config[name] for name in BERT_FIELDS}, position_padding_idx=pad_token_id)

    def _constructor_only_config(self):
        return {**super()._constructor_only_config(), "max_global_tokens": self.max_global_tokens}

    def _make_encoder_layer(self, index):
        return LongformerEncoderBlock(attention_window=self.attention_windows[index], **self._block_kwargs,
                                      dtype=self.dtype_policy, name=f"encoder_layer_{index}")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        ids = inputs["input_ids"]
        check_sequence_length(ids, self.max_positions, type(self).__name__, position_offset=self._position_offset)
        pad_token = self.config["pad_token_id"]
        padded, token, is_global = window_padding(type(self).__name__, ids, inputs.get("attention_mask"),
                                                  inputs.get("global_attention_mask"), max(self.attention_windows))
        embedded = {"token_type_ids": padded(inputs.get("token_type_ids", ops.zeros_like(ids)), 0)}
        if "position_ids" in inputs:
            embedded["position_ids"] = padded(inputs["position_ids"], pad_token)
        x = self.embeddings(padded(ids, pad_token), training=training, **embedded)
        outputs, x = run_longformer_layers(self, self.encoder_layers, x, token, is_global, ops.shape(ids)[1],
                                           training, output_attentions, output_hidden_states)
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(x)
        return outputs


def attention_windows(attention_window, num_layers, field="num_hidden_layers"):
    """The per-layer windows of an `attention_window` config field (an int or one even int per layer).

    Raises:
        ValueError: a list of another length than `num_layers`, or a window that is not a positive even int.
    """
    windows = [attention_window] * num_layers if isinstance(attention_window, int) else list(attention_window)
    if len(windows) != num_layers:
        raise ValueError(f"attention_window must be an int or a list of {field} ints. Received: "
                         f"attention_window={attention_window!r}, {field}={num_layers}")
    for window in windows:
        if not isinstance(window, int) or window <= 0 or window % 2:
            raise ValueError(f"attention_window values must be positive even ints. Received: {attention_window!r}")
    return windows


def check_max_global_tokens(max_global_tokens):
    """`None` or a non-negative int.

    Raises:
        ValueError: for a negative value.
    """
    if max_global_tokens is not None and int(max_global_tokens) < 0:
        raise ValueError(f"max_global_tokens must be >= 0 or None. Received: max_global_tokens={max_global_tokens}")
    return None if max_global_tokens is None else int(max_global_tokens)


def window_padding(model_name, input_ids, attention_mask, global_attention_mask, window):
    """The padding to a multiple of `window` a Longformer-attention stack needs, and its masks.

    Args:
        model_name: for error messages.
        input_ids: int tensor `(B, S)`.
        attention_mask, global_attention_mask: optional `(B, S)` 0/1 tensors.
        window: int, the largest `attention_window`.

    Returns:
        `(padded, token, is_global)`: `padded(x, value)` right-pads a `(B, S)`
        tensor to the window multiple with `value`; `token` (bool, True = not
        padding) and `is_global` (bool, global and not padding) padded, or
        `is_global=None` without a `global_attention_mask`.

    Raises:
        ValueError: for masks that are not `(batch, seq_len)`.
    """
    for name, mask in (("attention_mask", attention_mask), ("global_attention_mask", global_attention_mask)):
        if mask is not None and len(mask.shape) != 2:
            raise ValueError(f"{model_name} takes a (batch, seq_len) `{name}`. "
                             f"Received: {name} with shape {tuple(mask.shape)}.")
    pad = (-ops.shape(input_ids)[1]) % window

    def padded(x, value):
        return ops.pad(x, [(0, 0), (0, pad)], constant_values=value)

    token = ops.ones_like(input_ids, "bool") if attention_mask is None else ops.not_equal(attention_mask, 0)
    is_global = None
    if global_attention_mask is not None:
        is_global = padded(ops.logical_and(token, ops.not_equal(global_attention_mask, 0)), False)
    return padded, padded(token, False), is_global


def global_slots(model, is_global, padded_len):
    """The global slots every layer computes: `model.max_global_tokens` if set, else the number of global
    tokens (eager) or the padded length (a graph); 0 without a global mask.

    Raises:
        ValueError: (eager) an example has more global tokens than `max_global_tokens`.
    """
    if is_global is None:
        return 0
    most = int(ops.max(ops.sum(ops.cast(is_global, "int32"), axis=1))) if tf.executing_eagerly() else None
    if model.max_global_tokens is None:
        return padded_len if most is None else most
    if most is not None and most > model.max_global_tokens:
        raise ValueError(
            f"{type(model).__name__} was built with max_global_tokens={model.max_global_tokens}, but an example "
            f"has {most} global tokens. Build it with a larger max_global_tokens (or None).")
    return model.max_global_tokens


def run_longformer_layers(model, blocks, x, token, is_global, seq_len, training, output_attentions,
                          output_hidden_states):
    """Runs `LongformerEncoderBlock`s over the padded `x` `(B, padded_len, D)` and cuts the outputs back to `seq_len`.

    Returns:
        `(outputs, x)`: the dict with `last_hidden_state` `(B, seq_len, D)` and, when asked,
        `hidden_states`, `attentions` (cut to `seq_len` queries) and, with global tokens,
        `global_attentions` (the padded length, as the reference); and the padded last state.
    """
    slots = global_slots(model, is_global, ops.shape(x)[1])
    x, hidden_states, attentions = run_encoder_layers(
        blocks, x, output_attentions=output_attentions, training=training, attention_mask=token,
        global_attention_mask=is_global, num_global_slots=slots,
    )
    outputs = stack_outputs({"last_hidden_state": x[:, :seq_len]}, output_hidden_states, output_attentions,
                            [h[:, :seq_len] for h in hidden_states], [a[0][:, :, :seq_len] for a in attentions])
    if output_attentions and attentions and attentions[0][1] is not None:
        outputs["global_attentions"] = tuple(a[1] for a in attentions)
    return outputs, x


class LongformerPreTrainedModel(PreTrainedModel):
    model_type = "longformer"
    base_model_prefix = "longformer"
    backbone_class = LongformerModel
    input_names = INPUT_NAMES


class _LongformerHead:
    """Head-model mixin (first in the bases): the reference's default `global_attention_mask` per head."""

    # Where the head puts global attention without a `global_attention_mask`: None (nowhere),
    # "first" (`<s>`), "question" (before the first `sep_token_id`), "after_question" (after the
    # first `sep_token_id` and the one following it).
    default_global_attention = None

    def _backbone_outputs(self, inputs, training, output_attentions, output_hidden_states):
        if self.default_global_attention is not None and "global_attention_mask" not in inputs:
            inputs = {**inputs, "global_attention_mask": self._default_global_attention_mask(inputs["input_ids"])}
        return super()._backbone_outputs(inputs, training, output_attentions, output_hidden_states)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        inputs = super().dummy_inputs(batch_size, seq_len)  # no separators: set the global mask explicitly
        return {**inputs, "global_attention_mask": np.zeros_like(inputs["input_ids"])}

    def _default_global_attention_mask(self, input_ids):
        """The reference's `global_attention_mask` for this head, int32 `(batch, seq_len)`."""
        positions = ops.arange(ops.shape(input_ids)[1], dtype="int32")[None, :]
        if self.default_global_attention == "first":
            return ops.cast(ops.equal(positions, 0), "int32") * ops.ones_like(input_ids)
        is_sep = ops.equal(input_ids, self.backbone.config["sep_token_id"])
        if tf.executing_eagerly():
            counts = ops.convert_to_numpy(ops.sum(ops.cast(is_sep, "int32"), axis=1))
            if (counts != 3).any():
                raise ValueError(
                    f"{type(self).__name__} puts global attention on the question, found through sep_token_id="
                    f"{self.backbone.config['sep_token_id']}: every sequence needs exactly three of them (<s> question "
                    f"</s></s> context </s>). Received counts per sequence: {counts.tolist()}. Pass "
                    "`global_attention_mask` yourself otherwise.")
        first_sep = ops.min(ops.where(is_sep, positions, ops.shape(input_ids)[1]), axis=1, keepdims=True)
        if self.default_global_attention == "question":
            return ops.cast(positions < first_sep, "int32")
        return ops.cast(positions > first_sep + 1, "int32")


class LongformerForMaskedLM(_LongformerHead, MaskedLMMixin, LongformerPreTrainedModel):
    """Longformer + `LongformerLMHead` (dense, gelu, LayerNorm, tied decoder + bias); `logits (batch, seq_len, vocab)`."""

    lm_head_activation = "gelu"


class LongformerForSequenceClassification(_LongformerHead, SequenceClassificationMixin, LongformerPreTrainedModel):
    """Longformer + `LongformerClassificationHead` on `<s>`; `logits (batch, num_labels)`.

    Without `global_attention_mask`, `<s>` (the first token) gets global attention, as in the reference.
    """

    classifier_activation = "tanh"
    default_global_attention = "first"


class LongformerForTokenClassification(_LongformerHead, TokenClassificationMixin, LongformerPreTrainedModel):
    """Longformer + per-token linear classifier; `logits (batch, seq_len, num_labels)`."""


class LongformerForQuestionAnswering(_LongformerHead, QuestionAnsweringMixin, LongformerPreTrainedModel):
    """Longformer + span head; `start_logits`, `end_logits (batch, seq_len)`.

    Without `global_attention_mask`, the question tokens (those before the first
    `sep_token_id`) get global attention, as in the reference.

    Raises:
        ValueError: (eager, no `global_attention_mask`) a sequence without exactly three `sep_token_id`s.
    """

    default_global_attention = "question"


class LongformerForMultipleChoice(_LongformerHead, MultipleChoiceMixin, LongformerPreTrainedModel):
    """Longformer scoring `(batch, num_choices, seq_len)` inputs from the pooler; `logits (batch, num_choices)`.

    Without `global_attention_mask`, the tokens after the question (after the
    first `sep_token_id` and the one that follows it) get global attention, as
    in the reference.

    Raises:
        ValueError: (eager, no `global_attention_mask`) a sequence without exactly three `sep_token_id`s.
    """

    default_global_attention = "after_question"

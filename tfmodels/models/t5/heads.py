"""T5 task heads: sequence classification (eos pooling through the decoder), token classification, QA.

Checkpoint layouts follow `transformers.models.t5.modeling_t5`: the sequence
and token classifiers wrap their backbone under `transformer.` (`T5Model`,
`T5EncoderModel`); the question-answering model holds `shared`, `encoder`,
`decoder` at the top, as `T5ForConditionalGeneration` does, plus `qa_outputs`.
The encoder-decoder heads feed the decoder `input_ids` shifted right with
`decoder_start_token_id` when no `decoder_input_ids` are given.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.layers.losses import span_loss
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.heads import SequenceClassificationMixin, TokenClassificationMixin, resolve_labels
from tfmodels.models.seq2seq import shift_tokens_right
from tfmodels.models.t5.modeling import T5EncoderModel, T5Model, T5PreTrainedModel


def _with_decoder_inputs(model_config, inputs):
    """`inputs` with `decoder_input_ids` = `input_ids` shifted right when absent (the reference's default)."""
    if inputs.get("decoder_input_ids") is not None:
        return inputs
    start = shift_tokens_right(inputs["input_ids"], model_config["pad_token_id"], model_config["decoder_start_token_id"])
    return {**inputs, "decoder_input_ids": start}


def last_eos_states(hidden_states, input_ids, eos_token_id):
    """`hidden_states (B, T, D)` at each row's last `eos_token_id` in `input_ids (B, T)` -> `(B, D)`.

    Raises:
        ValueError: (eager calls) if rows hold different numbers of eos tokens, or none,
            which `transformers` refuses too.
    """
    is_eos = ops.equal(ops.cast(input_ids, "int32"), eos_token_id)
    if tf.executing_eagerly():
        counts = np.asarray(ops.sum(ops.cast(is_eos, "int32"), axis=1))
        if len(set(counts.tolist())) > 1 or counts.min() == 0:
            raise ValueError(f"All examples must have the same number (>= 1) of <eos> tokens ({eos_token_id}). "
                             f"Received counts per row: {counts.tolist()}.")
    positions = ops.arange(ops.shape(input_ids)[1], dtype="int32")[None, :]
    last = ops.max(ops.where(is_eos, positions, -1), axis=1)  # (B,)
    return ops.take_along_axis(hidden_states, ops.maximum(last, 0)[:, None, None], axis=1)[:, 0]


class _T5HeadModel(PreTrainedModel):
    model_type = "t5"
    base_model_prefix = "transformer"


class T5ForSequenceClassification(SequenceClassificationMixin, _T5HeadModel):
    """`T5Model` + `T5ClassificationHead` (dropout, dense, tanh, dropout, out_proj) on the decoder state at the
    last eos of `input_ids`; `logits (B, num_labels)`, loss by `problem_type`.

    Call inputs: `input_ids` `(B, S)` (each row with the same number of eos tokens), `attention_mask`, optional
    `decoder_input_ids` / `decoder_attention_mask` `(B, S)` (default: `input_ids` shifted right), `labels` `(B,)`.

    References: `transformers.T5ForSequenceClassification`.
    """

    backbone_class = T5Model
    backbone_kwargs = {}
    eos_pooling = True  # inputs must hold eos tokens (the dummy inputs are all eos)
    classifier_activation = "tanh"
    classifier_pool_first = False
    input_names = ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        outputs = self.backbone(_with_decoder_inputs(self.backbone.config, inputs), training=training,
                                output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        pooled = last_eos_states(outputs["last_hidden_state"], inputs["input_ids"], self.backbone.config["eos_token_id"])
        logits = self.classifier(pooled, training=training)
        return {"logits": logits, **{k: v for k, v in outputs.items() if k != "last_hidden_state"}}


class T5ForTokenClassification(TokenClassificationMixin, _T5HeadModel):
    """`T5EncoderModel` + dropout + linear classifier; `logits (B, S, num_labels)`.

    References: `transformers.T5ForTokenClassification`.
    """

    backbone_class = T5EncoderModel
    backbone_kwargs = {}
    input_names = T5EncoderModel.input_names


class T5ForQuestionAnswering(T5PreTrainedModel):
    """The T5 encoder-decoder + `qa_outputs` on the decoder output; `start_logits`, `end_logits (B, T)`.

    Call inputs: as `T5Model` (`decoder_input_ids` default: `input_ids` shifted right), plus
    `start_positions`, `end_positions` `(B,)` for the span loss.

    Raises:
        ValueError: a config with `num_labels != 2`.

    References: `transformers.T5ForQuestionAnswering`.
    """

    label_names = ("start_positions", "end_positions")
    serving_outputs = ("start_logits", "end_logits")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        num_labels, _, _ = resolve_labels(self.extra_config.get("num_labels"), self.extra_config.get("id2label"),
                                          self.extra_config.get("label2id"))
        if num_labels != 2:
            raise ValueError(f"T5ForQuestionAnswering needs num_labels=2. Received: num_labels={num_labels}")
        self.qa_outputs = keras.layers.Dense(2, dtype=self.dtype_policy, name="qa_outputs")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = _with_decoder_inputs(self.config, self._prepare_inputs(inputs))
        outputs = self._encode_decode(inputs, training, output_attentions, output_hidden_states)
        logits = self.qa_outputs(outputs.pop("last_hidden_state"))  # (B, T, 2)
        outputs = {"start_logits": logits[..., 0], "end_logits": logits[..., 1], **outputs}
        return self.with_task_loss(outputs, self.pop_labels(inputs))

    def task_loss(self, labels, outputs, sample_weight=None):
        return span_loss(labels["start_positions"], labels["end_positions"], outputs["start_logits"],
                         outputs["end_logits"], sample_weight)

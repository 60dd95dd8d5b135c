"""BigBird task heads: the shared head mixins on `BigBirdModel`, and BigBird's question-answering head.

References:
    Parity reference: `transformers.models.big_bird.modeling_big_bird` (`BigBirdFor*`,
    `BigBirdForQuestionAnsweringHead`, `BigBirdClassificationHead`).
"""

import keras
from keras import ops

from tfmodels.layers import LayerNormalization
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.utils import clone_initializer, hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.big_bird.modeling import BigBirdModel, QuietBuildMixin
from tfmodels.models.causal import EncoderCausalLMMixin
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.pretraining_heads import PreTrainingMixin

# Subtracted from the logits of question tokens (the reference's `logits - logits_mask * 1e6`).
QUESTION_PENALTY = 1e6


class BigBirdPreTrainedModel(QuietBuildMixin, PreTrainedModel):
    """Base of the BigBird head models: the backbone lives in `self.bert`, with its pooler
    (the reference's heads all keep `bert.pooler.*`, except question answering)."""

    model_type = "big_bird"
    base_model_prefix = "bert"
    backbone_class = BigBirdModel
    backbone_kwargs = {"add_pooling_layer": True}


class BigBirdForSequenceClassification(SequenceClassificationMixin, BigBirdPreTrainedModel):
    """BigBird + `BigBirdClassificationHead` (dropout, dense, `hidden_act`, dropout, out_proj on the
    first token); `logits (batch, num_labels)` and `loss` when `labels` is given.

    References: `transformers.BigBirdForSequenceClassification`.
    """

    backbone_kwargs = {"add_pooling_layer": True}  # the reference keeps `bert.pooler.*` (unused here)

    @property
    def classifier_activation(self):
        return self.backbone_arch["hidden_act"]


class BigBirdForTokenClassification(TokenClassificationMixin, BigBirdPreTrainedModel):
    """BigBird + per-token linear classifier; `logits (batch, seq_len, num_labels)`.

    References: `transformers.BigBirdForTokenClassification`.
    """

    backbone_kwargs = {"add_pooling_layer": True}


class BigBirdForMultipleChoice(MultipleChoiceMixin, BigBirdPreTrainedModel):
    """BigBird scoring `(batch, num_choices, seq_len)` inputs from the pooler; `logits (batch, num_choices)`.

    References: `transformers.BigBirdForMultipleChoice`.
    """


class BigBirdForMaskedLM(MaskedLMMixin, BigBirdPreTrainedModel):
    """BigBird + `cls.predictions` (dense, `hidden_act`, LayerNorm, tied decoder + bias);
    `logits (batch, seq_len, vocab_size)`.

    References: `transformers.BigBirdForMaskedLM`.
    """

    backbone_kwargs = {"add_pooling_layer": True}


class BigBirdForCausalLM(EncoderCausalLMMixin, BigBirdPreTrainedModel):
    """BigBird as a causal LM (config `is_decoder=True`, full attention): causal self-attention +
    `cls.predictions`. `generate()` decodes over a KV cache (full attention, XLA-compiled).

    References: `transformers.BigBirdForCausalLM`.
    """

    backbone_kwargs = {"add_pooling_layer": True}


class BigBirdForPreTraining(PreTrainingMixin, BigBirdPreTrainedModel):
    """BigBird + `cls.predictions` (masked LM) + `cls.seq_relationship` (next sentence).

    Returns:
        dict with `prediction_logits` `(batch, seq_len, vocab_size)`,
        `seq_relationship_logits` `(batch, 2)` and, with `labels` and
        `next_sentence_label`, `loss`.

    References: `transformers.BigBirdForPreTraining`.
    """

    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "num_labels": 2, "id2label": None, "label2id": None})


@keras.saving.register_keras_serializable(package="tfmodels")
class BigBirdQuestionAnsweringHead(keras.layers.Layer):
    """`qa_outputs(LN(x + feed_forward(dropout(x))))`: a feed-forward residual sub-block, then the span logits.

    Args:
        hidden_size: int, input width `D`.
        intermediate_size: int, feed-forward width.
        hidden_act: str, Hugging Face activation name.
        dropout: float, dropout on the input and on the feed-forward output.
        layer_norm_eps: float, LayerNorm epsilon.
        num_labels: int, outputs per token (2: start and end).
        kernel_initializer: initializer of the kernels.

    Call args:
        x: float tensor `(batch, seq_len, D)`; `training` enables dropout.

    Returns:
        float tensor `(batch, seq_len, num_labels)`.

    References: `transformers.models.big_bird.modeling_big_bird.BigBirdForQuestionAnsweringHead`.
    """

    def __init__(self, hidden_size, intermediate_size, hidden_act="gelu_new", dropout=0.0, layer_norm_eps=1e-12,
                 num_labels=2, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.dropout = dropout
        self.layer_norm_eps = layer_norm_eps
        self.num_labels = num_labels
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.input_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.feed_forward = FeedForward(intermediate_size, activation=hidden_act,
                                        kernel_initializer=clone_initializer(self.kernel_initializer),
                                        dtype=self.dtype_policy, name="feed_forward")
        self.output_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm")
        self.qa_outputs = keras.layers.Dense(num_labels, kernel_initializer=clone_initializer(self.kernel_initializer),
                                             dtype=self.dtype_policy, name="qa_outputs")

    def build(self, input_shape):
        self.feed_forward.build(input_shape)
        self.layer_norm.build(input_shape)
        self.qa_outputs.build(input_shape)
        self.built = True

    def call(self, x, training=None):
        hidden = self.feed_forward(self.input_dropout(x, training=training))
        hidden = self.layer_norm(x + self.output_dropout(hidden, training=training))
        return self.qa_outputs(hidden)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_labels)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "hidden_act": self.hidden_act,
            "dropout": self.dropout,
            "layer_norm_eps": self.layer_norm_eps,
            "num_labels": self.num_labels,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


class BigBirdForQuestionAnswering(QuestionAnsweringMixin, BigBirdPreTrainedModel):
    """BigBird + `BigBirdForQuestionAnsweringHead`, with question tokens masked out of the span logits.

    As the reference: `question_lengths` `(batch, 1)` (or `(batch,)`) defaults
    to the position of the first `sep_token_id` plus one (1 when a row has
    none); the logits of positions `1 .. question_length - 1` are lowered by
    `1e6`; when `token_type_ids` are not given they are 0 on the question
    (`< question_length`) and 1 after it.

    Returns:
        dict with `start_logits`, `end_logits` `(batch, seq_len)` and `loss`
        when `start_positions` and `end_positions` are given.

    References: `transformers.BigBirdForQuestionAnswering`.
    """

    input_names = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "question_lengths")
    backbone_kwargs = {"add_pooling_layer": False}

    def _make_span_head(self, num_labels):
        arch = self.backbone_arch
        self.qa_classifier = BigBirdQuestionAnsweringHead(
            arch["hidden_size"], self.backbone.config["intermediate_size"], hidden_act=arch["hidden_act"],
            dropout=arch["hidden_dropout"], layer_norm_eps=arch["layer_norm_eps"], num_labels=num_labels,
            kernel_initializer=hf_initializer(arch["initializer_range"]), dtype=self.dtype_policy,
            name="qa_classifier",
        )

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        inputs = dict(inputs)
        question_lengths = inputs.pop("question_lengths", None)
        input_ids = inputs["input_ids"]
        seq_len = ops.shape(input_ids)[1]
        if question_lengths is None:
            is_sep = ops.cast(ops.equal(input_ids, self.backbone.config["sep_token_id"]), "int32")
            question_lengths = ops.argmax(is_sep, axis=-1) + 1
        question_lengths = ops.reshape(ops.cast(question_lengths, "int32"), (-1, 1))
        question = ops.cast(ops.less(ops.arange(seq_len, dtype="int32")[None, :], question_lengths), "int32")
        if inputs.get("token_type_ids") is None:
            inputs["token_type_ids"] = 1 - question
        not_first = ops.cast(ops.arange(seq_len) > 0, "int32")[None, :]
        logits_mask = question * not_first  # (batch, seq_len): question tokens but the first
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self.qa_classifier(backbone_outputs["last_hidden_state"], training=training)  # (batch, seq, 2)
        logits = logits - ops.cast(logits_mask, logits.dtype)[..., None] * QUESTION_PENALTY
        outputs = {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}
        return self._passthrough(outputs, backbone_outputs)

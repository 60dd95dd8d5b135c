"""Beam-search SQuAD head (start top-k, end top-k per start, answerability) of XLNet/XLM."""

import keras
from keras import ops

from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.utils import clone_initializer


def _apply_p_mask(logits, p_mask):
    """The reference's `x * (1 - p_mask) - 1e30 * p_mask` (1.0 in `p_mask` = not an answer token)."""
    if p_mask is None:
        return logits
    p_mask = ops.cast(p_mask, logits.dtype)
    return logits * (1 - p_mask) - 1e30 * p_mask


@keras.saving.register_keras_serializable(package="tfmodels")
class SquadBeamHead(keras.layers.Layer):
    """Start logits, end logits conditioned on the start, and an answerability logit.

    Inference (no labels)::

        start_probs = softmax(start_logits)                        # (batch, seq)
        top start_n_top starts; for each, end logits from [h; h_start]
        top end_n_top ends per start; cls_logits from [sum_l p_l h_l; h_cls]

    Training uses the gold start (`teacher_forced`).

    Args:
        hidden_size: int, width `D` of the hidden states.
        start_n_top, end_n_top: int, beam sizes.
        layer_norm_eps: float, epsilon of the end-logit LayerNorm.
        kernel_initializer: initializer of the kernels.
        **kwargs: base layer arguments.

    Call args:
        hidden_states: float `(batch, seq_len, D)`.
        p_mask: optional float `(batch, seq_len)`, 1.0 = token cannot be in the answer.
        cls_index: optional int `(batch,)`, position of the classification token (default: last).

    Returns:
        dict with `start_top_log_probs`, `start_top_index` `(batch, start_n_top)`,
        `end_top_log_probs`, `end_top_index` `(batch, start_n_top * end_n_top)`
        (probabilities, named as in `transformers`) and `cls_logits` `(batch,)`.

    References:
        Yang et al., "XLNet", 2019. Parity reference:
        `transformers.models.xlm.modeling_xlm.XLMSQuADHead`.
    """

    def __init__(self, hidden_size, start_n_top=5, end_n_top=5, layer_norm_eps=1e-12,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.start_n_top = start_n_top
        self.end_n_top = end_n_top
        self.layer_norm_eps = layer_norm_eps
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        def dense(units, name, use_bias=True):
            return keras.layers.Dense(units, use_bias=use_bias, dtype=self.dtype_policy, name=name,
                                      kernel_initializer=clone_initializer(self.kernel_initializer))

        self.start_dense = dense(1, "start_dense")
        self.end_dense_0 = dense(hidden_size, "end_dense_0")
        self.end_layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy,
                                                              name="end_layer_norm")
        self.end_dense_1 = dense(1, "end_dense_1")
        self.answer_dense_0 = dense(hidden_size, "answer_dense_0")
        self.answer_dense_1 = dense(1, "answer_dense_1", use_bias=False)

    def build(self, input_shape):
        d = self.hidden_size
        self.start_dense.build((None, d))
        self.end_dense_0.build((None, 2 * d))
        self.end_layer_norm.build((None, d))
        self.end_dense_1.build((None, d))
        self.answer_dense_0.build((None, 2 * d))
        self.answer_dense_1.build((None, d))
        self.built = True

    def start_logits(self, hidden_states, p_mask=None):
        return _apply_p_mask(self.start_dense(hidden_states)[..., 0], p_mask)  # (batch, seq)

    def end_logits(self, hidden_states, start_states, p_mask=None):
        x = self.end_dense_0(ops.concatenate([hidden_states, start_states], axis=-1))
        x = self.end_dense_1(self.end_layer_norm(ops.tanh(x)))[..., 0]
        return _apply_p_mask(x, p_mask)

    def answer_logits(self, hidden_states, start_states, cls_index=None):
        if cls_index is None:
            cls_state = hidden_states[:, -1]
        else:
            cls_state = ops.take_along_axis(hidden_states, ops.cast(cls_index, "int32")[:, None, None], axis=1)[:, 0]
        x = ops.tanh(self.answer_dense_0(ops.concatenate([start_states, cls_state], axis=-1)))
        return self.answer_dense_1(x)[..., 0]  # (batch,)

    def teacher_forced(self, hidden_states, start_positions, p_mask=None, cls_index=None):
        """`(start_logits, end_logits, cls_logits)` given the gold starts `(batch,)`."""
        index = ops.cast(ops.reshape(start_positions, (-1,)), "int32")[:, None, None]
        start_state = ops.take_along_axis(hidden_states, index, axis=1)  # (batch, 1, D)
        end = self.end_logits(hidden_states, ops.broadcast_to(start_state, ops.shape(hidden_states)), p_mask)
        cls = self.answer_logits(hidden_states, start_state[:, 0], cls_index)
        return self.start_logits(hidden_states, p_mask), end, cls

    def call(self, hidden_states, p_mask=None, cls_index=None):
        seq_len = ops.shape(hidden_states)[1]
        start_probs = ops.softmax(self.start_logits(hidden_states, p_mask), axis=-1)  # (batch, seq)
        start_top_probs, start_top_index = ops.top_k(start_probs, self.start_n_top)  # (batch, k_s)
        start_states = ops.take_along_axis(hidden_states, start_top_index[:, :, None], axis=1)  # (batch, k_s, D)
        shape = (ops.shape(hidden_states)[0], seq_len, self.start_n_top, self.hidden_size)
        start_states = ops.broadcast_to(start_states[:, None], shape)  # (batch, seq, k_s, D)
        expanded = ops.broadcast_to(hidden_states[:, :, None], shape)
        end_mask = None if p_mask is None else p_mask[:, :, None]
        end_probs = ops.softmax(self.end_logits(expanded, start_states, end_mask), axis=1)  # (batch, seq, k_s)
        end_top_probs, end_top_index = ops.top_k(ops.transpose(end_probs, (0, 2, 1)), self.end_n_top)  # (b, k_s, k_e)
        flat = (-1, self.start_n_top * self.end_n_top)  # ordered (end rank, start rank) as in transformers
        end_top_probs = ops.reshape(ops.transpose(end_top_probs, (0, 2, 1)), flat)
        end_top_index = ops.reshape(ops.transpose(end_top_index, (0, 2, 1)), flat)
        weighted_start = ops.einsum("blh,bl->bh", hidden_states, start_probs)
        return {
            "start_top_log_probs": start_top_probs, "start_top_index": start_top_index,
            "end_top_log_probs": end_top_probs, "end_top_index": end_top_index,
            "cls_logits": self.answer_logits(hidden_states, weighted_start, cls_index),
        }

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "start_n_top": self.start_n_top,
                "end_n_top": self.end_n_top, "layer_norm_eps": self.layer_norm_eps,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}

"""I-BERT's integer-only embeddings and encoder block, built from `tfmodels.layers.quantization`.

Activations travel as `(values, scaling_factor)` pairs (see that module);
the block returns both streams, so `run_block_stack` threads them as a tuple.
"""

import keras
import tensorflow as tf

from tfmodels.layers.position.sinusoidal import padding_offset_positions
from tfmodels.layers.quantization import IntGELU, IntLayerNorm, IntSoftmax, QuantAct, QuantEmbedding, QuantLinear
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class IntegerEmbeddings(keras.layers.Layer):
    """Word + token type + position embeddings, added in 16-bit fixed point, integer LayerNorm, 8-bit output.

    As the reference, both additions requantize with `embeddings_act1` (its
    `embeddings_act2` is never called, so it is not built here). Positions
    are RoBERTa's (`padding_idx + 1` onwards).

    Args:
        vocab_size, hidden_size, max_position_embeddings, type_vocab_size: table sizes.
        padding_idx: int, the padding token (RoBERTa positions).
        layer_norm_eps: float; quant_mode: bool; force_dequant: see `IntLayerNorm`.
        initializer_range: float, stddev of the tables' normal initialiser.

    Call args:
        input_ids: int `(batch, seq_len)`; token_type_ids, position_ids: optional, same shape.

    Returns:
        `(embeddings (batch, seq_len, hidden_size), scaling_factor (1,))`.
    """

    def __init__(self, vocab_size, hidden_size, max_position_embeddings, type_vocab_size, padding_idx=1,
                 layer_norm_eps=1e-12, quant_mode=True, force_dequant="none", initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.padding_idx = padding_idx
        self.layer_norm_eps = layer_norm_eps
        self.quant_mode = quant_mode
        self.force_dequant = force_dequant
        self.initializer_range = initializer_range
        init = keras.initializers.RandomNormal(stddev=initializer_range)
        common = dict(quant_mode=quant_mode, dtype=self.dtype_policy)
        self.word_embeddings = QuantEmbedding(vocab_size, hidden_size, embeddings_initializer=clone_initializer(init),
                                              name="word_embeddings", **common)
        self.token_type_embeddings = QuantEmbedding(type_vocab_size, hidden_size, name="token_type_embeddings",
                                                    embeddings_initializer=clone_initializer(init), **common)
        self.position_embeddings = QuantEmbedding(max_position_embeddings, hidden_size, name="position_embeddings",
                                                  embeddings_initializer=clone_initializer(init), **common)
        self.embeddings_act1 = QuantAct(16, name="embeddings_act1", **common)
        self.layer_norm = IntLayerNorm(layer_norm_eps, force_dequant=force_dequant, name="layer_norm", **common)
        self.output_activation = QuantAct(8, name="output_activation", **common)

    def build(self, input_shape):
        for layer in (self.word_embeddings, self.token_type_embeddings, self.position_embeddings,
                      self.embeddings_act1, self.output_activation):
            layer.build(input_shape)
        self.layer_norm.build((*input_shape, self.hidden_size))
        self.built = True

    def call(self, input_ids, token_type_ids=None, position_ids=None, training=None):
        if position_ids is None:
            position_ids = padding_offset_positions(input_ids, self.padding_idx)
        if token_type_ids is None:
            token_type_ids = tf.zeros_like(input_ids)
        words, words_scale = self.word_embeddings(input_ids)
        types, types_scale = self.token_type_embeddings(token_type_ids)
        x, scale = self.embeddings_act1(words, words_scale, identity=types, identity_scaling_factor=types_scale)
        positions, positions_scale = self.position_embeddings(position_ids)
        x, scale = self.embeddings_act1(x, scale, identity=positions, identity_scaling_factor=positions_scale)
        x, scale = self.layer_norm(x, scale)
        return self.output_activation(x, scale)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
                "max_position_embeddings": self.max_position_embeddings, "type_vocab_size": self.type_vocab_size,
                "padding_idx": self.padding_idx, "layer_norm_eps": self.layer_norm_eps,
                "quant_mode": self.quant_mode, "force_dequant": self.force_dequant,
                "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="tfmodels")
class IntegerEncoderBlock(keras.layers.Layer):
    """One I-BERT encoder layer on `(x, scaling_factor)`: 8-bit Q/K/V, `IntSoftmax`, 22-bit residual sums,
    `IntLayerNorm`, `IntGELU`; post-norm like BERT.

    Sublayer names follow the reference's modules (`query`, `query_activation`, ..., `softmax`,
    `attention_dense`, `attention_ln_input_act`, `attention_layer_norm`, `attention_output_act`,
    `pre_intermediate_act`, `intermediate_dense`, `intermediate_act_fn`, `intermediate_output_act`,
    `pre_output_act`, `output_dense`, `output_ln_input_act`, `output_layer_norm`, `output_act`).

    Args:
        num_heads: int; intermediate_size: int; layer_norm_eps: float;
        quant_mode: bool; force_dequant: str (see the quantization layers);
        kernel_initializer: initializer of every kernel.

    Call args:
        x: float `(batch, seq_len, hidden)`; scaling_factor: its `(1,)` factor.
        attention_mask: bool `(batch | 1, 1, 1 | seq_len, seq_len)`, True = attend.
        return_attention_scores: bool.

    Returns:
        `(x, scaling_factor)` or `(x, scaling_factor, probabilities (batch, heads, seq_len, seq_len))`.

    References:
        Parity reference: `transformers.models.ibert.modeling_ibert.IBertLayer`.
    """

    def __init__(self, num_heads, intermediate_size, layer_norm_eps=1e-12, quant_mode=True, force_dequant="none",
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.layer_norm_eps = layer_norm_eps
        self.quant_mode = quant_mode
        self.force_dequant = force_dequant
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _linear(self, units, name):
        return QuantLinear(units, quant_mode=self.quant_mode, name=name, dtype=self.dtype_policy,
                           kernel_initializer=clone_initializer(self.kernel_initializer))

    def _act(self, bits, name):
        return QuantAct(bits, quant_mode=self.quant_mode, name=name, dtype=self.dtype_policy)

    def _norm(self, name):
        return IntLayerNorm(self.layer_norm_eps, quant_mode=self.quant_mode, force_dequant=self.force_dequant,
                            name=name, dtype=self.dtype_policy)

    def build(self, input_shape):
        hidden = input_shape[-1]
        if hidden % self.num_heads:
            raise ValueError(f"hidden size must be divisible by num_heads. Received: hidden={hidden}, "
                             f"num_heads={self.num_heads}")
        for name in ("query", "key", "value"):
            setattr(self, name, self._linear(hidden, name))
            setattr(self, f"{name}_activation", self._act(8, f"{name}_activation"))
        self.context_activation = self._act(8, "context_activation")
        self.softmax = IntSoftmax(8, quant_mode=self.quant_mode, force_dequant=self.force_dequant, name="softmax",
                                  dtype=self.dtype_policy)
        self.attention_dense = self._linear(hidden, "attention_dense")
        self.attention_ln_input_act = self._act(22, "attention_ln_input_act")
        self.attention_layer_norm = self._norm("attention_layer_norm")
        self.attention_output_act = self._act(8, "attention_output_act")
        self.pre_intermediate_act = self._act(8, "pre_intermediate_act")
        self.intermediate_dense = self._linear(self.intermediate_size, "intermediate_dense")
        self.intermediate_act_fn = IntGELU(quant_mode=self.quant_mode, force_dequant=self.force_dequant,
                                           name="intermediate_act_fn", dtype=self.dtype_policy)
        self.intermediate_output_act = self._act(8, "intermediate_output_act")
        self.pre_output_act = self._act(8, "pre_output_act")
        self.output_dense = self._linear(hidden, "output_dense")
        self.output_ln_input_act = self._act(22, "output_ln_input_act")
        self.output_layer_norm = self._norm("output_layer_norm")
        self.output_act = self._act(8, "output_act")
        for layer in (self.query, self.key, self.value, self.attention_dense, self.intermediate_dense,
                      self.attention_layer_norm, self.output_layer_norm):
            layer.build(input_shape)
        self.output_dense.build((*input_shape[:-1], self.intermediate_size))
        for name in ("query_activation", "key_activation", "value_activation", "context_activation", "softmax",
                     "attention_ln_input_act", "attention_output_act", "pre_intermediate_act",
                     "intermediate_output_act", "pre_output_act", "output_ln_input_act", "output_act"):
            getattr(self, name).build()
        self.built = True

    def _heads(self, x):
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        head_dim = x.shape[-1] // self.num_heads
        return tf.transpose(tf.reshape(x, (batch, length, self.num_heads, head_dim)), (0, 2, 1, 3))  # (B, N, T, H)

    def _attention(self, x, scale, attention_mask, training):
        (q, q_scale), (k, k_scale), (v, v_scale) = [
            getattr(self, f"{name}_activation")(*getattr(self, name)(x, scale))
            for name in ("query", "key", "value")
        ]
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        head_scale = float(self.query.units // self.num_heads) ** 0.5
        scores = tf.matmul(q, k, transpose_b=True) / tf.constant(head_scale, tf.float32)  # (B, N, T, S)
        scores_scale = None if q_scale is None else q_scale * k_scale / tf.constant(head_scale, tf.float32)
        if attention_mask is not None:  # the reference's additive mask: the float32 minimum on masked keys
            scores = scores + tf.where(attention_mask, 0.0, tf.float32.min)
        probs, probs_scale = self.softmax(scores, scores_scale)
        context = tf.matmul(probs, v)  # (B, N, T, H)
        context_scale = None if probs_scale is None else probs_scale * v_scale
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        context = tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, length, x.shape[-1]))
        context, context_scale = self.context_activation(context, context_scale)
        return context, context_scale, probs

    def _residual_norm(self, x, scale, residual, residual_scale, dense, ln_input_act, norm, output_act):
        x, scale = dense(x, scale)
        x, scale = ln_input_act(x, scale, identity=residual, identity_scaling_factor=residual_scale)
        x, scale = norm(x, scale)
        return output_act(x, scale)

    def call(self, x, scaling_factor=None, attention_mask=None, return_attention_scores=False, training=None):
        if training and self.quant_mode:
            raise NotImplementedError("IntegerEncoderBlock in quant mode runs inference only (calibrated ranges); "
                                      "train with quant_mode=False.")
        context, context_scale, probs = self._attention(x, scaling_factor, attention_mask, training)
        h, h_scale = self._residual_norm(context, context_scale, x, scaling_factor, self.attention_dense,
                                         self.attention_ln_input_act, self.attention_layer_norm,
                                         self.attention_output_act)
        h, h_scale = self.pre_intermediate_act(h, h_scale)
        inner, inner_scale = self.intermediate_act_fn(*self.intermediate_dense(h, h_scale))
        inner, inner_scale = self.intermediate_output_act(inner, inner_scale)
        inner, inner_scale = self.pre_output_act(inner, inner_scale)
        out, out_scale = self._residual_norm(inner, inner_scale, h, h_scale, self.output_dense,
                                             self.output_ln_input_act, self.output_layer_norm, self.output_act)
        return (out, out_scale, probs) if return_attention_scores else (out, out_scale)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "intermediate_size": self.intermediate_size,
                "layer_norm_eps": self.layer_norm_eps, "quant_mode": self.quant_mode,
                "force_dequant": self.force_dequant,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}

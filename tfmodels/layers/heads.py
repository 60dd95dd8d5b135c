"""Task heads shared by the encoder architectures."""

import keras
from keras import ops

from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.activations import get_activation
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class Pooler(keras.layers.Layer):
    """`activation(dense(x[:, 0]))`: the first token's state, projected.

    Args:
        hidden_size: int, output width.
        activation: str, Hugging Face activation name (`"tanh"` for BERT).
        kernel_initializer: kernel initializer.

    Call args:
        hidden_states: float tensor `(batch, seq_len, hidden_size)`.

    Returns:
        float tensor `(batch, hidden_size)`.
    """

    def __init__(self, hidden_size, activation="tanh", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.activation = activation
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation_fn = get_activation(activation)
        self.dense = keras.layers.Dense(
            hidden_size, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="dense",
        )

    def build(self, input_shape):
        self.dense.build((input_shape[0], input_shape[-1]))
        self.built = True

    def call(self, hidden_states):
        return self._activation_fn(self.dense(hidden_states[:, 0]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.hidden_size)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "activation": self.activation,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class MaskedLMHead(keras.layers.Layer):
    """Masked-LM head: dense + activation + LayerNorm, then vocabulary logits.

    With `tie_word_embeddings=True` the projection onto the vocabulary uses
    the input embedding matrix passed at call time (no kernel of its own);
    the output bias is always the head's own.

    Args:
        vocab_size: int, number of output classes `V`.
        hidden_size: int, width of the transform (`embedding_size` for
            factorised embeddings).
        hidden_act: str, Hugging Face activation name of the transform.
        layer_norm_eps: float, LayerNorm epsilon.
        tie_word_embeddings: bool, project with the input embeddings.
        kernel_initializer: kernel initializer.

    Call args:
        hidden_states: float tensor `(batch, seq_len, hidden)`.
        embedding_matrix: float tensor `(V, hidden_size)`; required when tied.

    Returns:
        float tensor `(batch, seq_len, V)` of logits.

    References:
        Parity reference: `transformers.models.bert.modeling_bert.BertLMPredictionHead`.
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        tie_word_embeddings=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.tie_word_embeddings = tie_word_embeddings
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation_fn = get_activation(hidden_act)
        self.dense = keras.layers.Dense(
            hidden_size, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="dense",
        )
        self.layer_norm = LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
        )

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.layer_norm.build((*input_shape[:-1], self.hidden_size))
        self.decoder = None
        if not self.tie_word_embeddings:
            self.decoder = self.add_weight(
                shape=(self.hidden_size, self.vocab_size), name="decoder",
                initializer=clone_initializer(self.kernel_initializer),
            )
        self.bias = self.add_weight(shape=(self.vocab_size,), name="bias", initializer="zeros")
        self.built = True

    def call(self, hidden_states, embedding_matrix=None):
        x = self.layer_norm(self._activation_fn(self.dense(hidden_states)))
        if self.tie_word_embeddings:
            if embedding_matrix is None:
                raise ValueError("MaskedLMHead(tie_word_embeddings=True) needs `embedding_matrix`.")
            kernel = ops.transpose(ops.cast(embedding_matrix, x.dtype))
        else:
            kernel = ops.cast(self.decoder, x.dtype)
        return ops.matmul(x, kernel) + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.vocab_size)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "hidden_act": self.hidden_act,
            "layer_norm_eps": self.layer_norm_eps,
            "tie_word_embeddings": self.tie_word_embeddings,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }

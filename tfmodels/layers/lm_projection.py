"""Vocabulary projection with a bias, optionally tied to the word embeddings."""

import keras
from keras import ops

from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class LMProjection(keras.layers.Layer):
    """`logits = hidden @ W^T + bias` with `W` the word embeddings (tied) or its own `(V, D)` kernel.

    The plain `nn.Linear(hidden, vocab)` LM head of Funnel and XLNet.

    Args:
        vocab_size: int, `V`.
        tie_word_embeddings: bool, use the caller's embedding matrix as `W`.
        use_bias: bool, add a `(V,)` bias.
        kernel_initializer: initializer of the untied kernel.

    Call args:
        hidden_states: float tensor `(batch, seq_len, D)`.
        embedding_matrix: float tensor `(V, D)`; required when tied.

    Returns:
        float tensor `(batch, seq_len, V)`.
    """

    def __init__(self, vocab_size, tie_word_embeddings=True, use_bias=True, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.tie_word_embeddings = tie_word_embeddings
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.kernel = None
        if not self.tie_word_embeddings:
            self.kernel = self.add_weight(
                name="kernel", shape=(self.vocab_size, input_shape[-1]),
                initializer=clone_initializer(self.kernel_initializer),
            )
        self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros") if self.use_bias \
            else None
        self.built = True

    def call(self, hidden_states, embedding_matrix=None):
        if self.tie_word_embeddings:
            if embedding_matrix is None:
                raise ValueError("LMProjection(tie_word_embeddings=True) needs `embedding_matrix`.")
            weight = embedding_matrix
        else:
            weight = self.kernel
        logits = ops.matmul(hidden_states, ops.transpose(ops.cast(weight, hidden_states.dtype)))
        if self.bias is not None:
            logits = logits + ops.cast(self.bias, logits.dtype)
        return logits

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.vocab_size)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "tie_word_embeddings": self.tie_word_embeddings,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }

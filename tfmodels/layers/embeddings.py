"""Token, position and segment embeddings."""

import keras
from keras import ops

from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class WordEmbedding(keras.layers.Embedding):
    """A token embedding that can also project back onto the vocabulary.

    `call(token_ids)` looks up `(batch, seq_len) -> (batch, seq_len, dim)`;
    `call(hidden_states, reverse=True)` computes logits against the same
    matrix, `(batch, seq_len, dim) -> (batch, seq_len, vocab_size)`, which is
    how masked-LM and causal-LM heads tie their output weights to the input
    embeddings.
    """

    def call(self, inputs, reverse=False):
        if reverse:
            matrix = ops.cast(self.embeddings, inputs.dtype)
            return ops.matmul(inputs, ops.transpose(matrix))
        return super().call(inputs)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)


@keras.saving.register_keras_serializable(package="tfmodels")
class TransformerEmbeddings(keras.layers.Layer):
    """Word + absolute position + token type embeddings, then LayerNorm and dropout.

    The BERT embedding block; flags cover its relatives (no token types,
    no positions, no normalisation).

    Args:
        vocab_size: int, number of tokens.
        hidden_size: int, embedding width `E` (`embedding_size` in ALBERT and
            ELECTRA, `hidden_size` in BERT).
        max_position_embeddings: int or None; `None` disables learned positions.
        type_vocab_size: int, number of token types; `0` disables them.
        layer_norm_eps: float or None; `None` disables the LayerNorm.
        dropout: float, dropout rate on the output.
        initializer_range: float, stddev of the normal initialiser.
        **kwargs: base layer arguments.

    Call args:
        input_ids: int tensor `(batch, seq_len)`.
        token_type_ids: optional int tensor `(batch, seq_len)`; zeros if absent.
        position_ids: optional int tensor `(batch, seq_len)` or `(1, seq_len)`;
            `arange(seq_len)` if absent.
        training: bool, enables dropout.

    Returns:
        float tensor `(batch, seq_len, hidden_size)`.

    References:
        Devlin et al., "BERT", 2019. Parity reference:
        `transformers.models.bert.modeling_bert.BertEmbeddings`.
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        max_position_embeddings=512,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        dropout=0.0,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.dropout = dropout
        self.initializer_range = initializer_range
        init = keras.initializers.RandomNormal(stddev=initializer_range)
        self.word_embeddings = WordEmbedding(
            vocab_size, hidden_size, embeddings_initializer=clone_initializer(init),
            dtype=self.dtype_policy, name="word_embeddings",
        )
        self.position_embeddings = None
        if max_position_embeddings:
            self.position_embeddings = keras.layers.Embedding(
                max_position_embeddings, hidden_size, embeddings_initializer=clone_initializer(init),
                dtype=self.dtype_policy, name="position_embeddings",
            )
        self.token_type_embeddings = None
        if type_vocab_size:
            self.token_type_embeddings = keras.layers.Embedding(
                type_vocab_size, hidden_size, embeddings_initializer=clone_initializer(init),
                dtype=self.dtype_policy, name="token_type_embeddings",
            )
        self.layer_norm = None
        if layer_norm_eps is not None:
            self.layer_norm = LayerNormalization(
                epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
            )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.word_embeddings.build(input_shape)
        if self.position_embeddings is not None:
            self.position_embeddings.build(input_shape)
        if self.token_type_embeddings is not None:
            self.token_type_embeddings.build(input_shape)
        if self.layer_norm is not None:
            self.layer_norm.build((*input_shape, self.hidden_size))
        self.built = True

    def call(self, input_ids, token_type_ids=None, position_ids=None, training=None):
        x = self.word_embeddings(input_ids)  # (batch, seq_len, hidden)
        if self.position_embeddings is not None:
            if position_ids is None:
                position_ids = ops.arange(ops.shape(input_ids)[1], dtype="int32")[None, :]
            x = x + self.position_embeddings(position_ids)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = ops.zeros_like(input_ids)
            x = x + self.token_type_embeddings(token_type_ids)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.hidden_size)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_eps": self.layer_norm_eps,
            "dropout": self.dropout,
            "initializer_range": self.initializer_range,
        }

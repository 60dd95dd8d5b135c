"""Token, position and segment embeddings, and the one check of ids before a lookup."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.layers.einsum_dense import matmul_2d, rows_2d
from tfmodels.layers.normalization import normalization as make_normalization
from tfmodels.layers.position.sinusoidal import padding_offset_positions
from tfmodels.layers.utils import clone_initializer


def _ids_message(name, vocab_size, size_name):
    return (f"`{name}` must hold ids in [0, {size_name}={vocab_size}): the embedding table has {vocab_size} rows. "
            "Check that the tokenizer belongs to this checkpoint.")


def checked_lookup(lookup, ids, vocab_size, name="input_ids", size_name="vocab_size"):
    """`lookup(ids)` after checking that every id is in `[0, vocab_size)`.

    TensorFlow's gather raises a deep `GatherV2` error for a too-large id on
    CPU, returns zeros on GPU/TPU and accepts negative ids on CPU; this check
    runs before the lookup instead:

    - eager (the usual `model(inputs)`, numpy or eager tensors): a host-side
      check raises `ValueError` naming the first bad id, its position and
      `vocab_size`;
    - graph (`tf.function`, `predict()`/`fit()` without XLA, exported
      SavedModels): a `tf.debugging.Assert` runs before the lookup and raises
      `tf.errors.InvalidArgumentError` with the same message followed by the
      position and the id;
    - XLA (`jit_compile=True`): XLA drops `Assert` ops, so nothing can be
      raised; the embeddings of invalid ids are set to NaN instead (XLA's
      gather would clamp the id to the table), so outputs that depend on them
      are NaN rather than plausible.

    Args:
        lookup: callable, `ids -> (..., dim)` embeddings.
        ids: int tensor `(batch, seq_len)` (any rank).
        vocab_size: int, rows of the table.
        name: input name used in the message.
        size_name: name of the table size in the message.

    Returns:
        float tensor `(*ids.shape, dim)`.

    Raises:
        ValueError: in eager mode, for an id `< 0` or `>= vocab_size`.
    """
    ids = ops.convert_to_tensor(ids)
    if tf.executing_eagerly():
        values = np.asarray(ids)
        bad = (values < 0) | (values >= vocab_size)
        if bad.any():
            position = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{_ids_message(name, vocab_size, size_name)} Received: {name}{list(position)} = "
                             f"{values[position]} ({int(bad.sum())} id(s) out of range).")
        return lookup(ids)
    valid = ops.logical_and(ops.greater_equal(ids, 0), ops.less(ids, vocab_size))
    # First bad position as a flat index: static-shape ops only, so the check also compiles under XLA.
    first = tf.argmax(tf.reshape(tf.cast(tf.logical_not(valid), tf.int32), [-1]), output_type=tf.int32)
    shape = tf.shape(ids, out_type=tf.int32)
    position = (first // tf.math.cumprod(shape, exclusive=True, reverse=True)) % shape  # unravelled index
    value = tf.cast(tf.gather(tf.reshape(ids, [-1]), first), tf.int32)
    check = tf.debugging.Assert(tf.reduce_all(valid), [
        _ids_message(name, vocab_size, size_name), f"First bad position in {name}:", position, "id:", value])
    with tf.control_dependencies([check]):
        ids = tf.identity(ids)
    x = lookup(ids)
    return ops.where(valid[..., None], x, ops.cast(float("nan"), x.dtype))


def logits_against_rows(hidden_states, matrix):
    """`hidden_states @ matrix^T` for a `(rows, dim)` table, without copying the table.

    Args:
        hidden_states: float tensor `(..., dim)`.
        matrix: float tensor `(rows, dim)`, e.g. the `(vocab_size, dim)` embedding table.

    Returns:
        float tensor `(..., rows)`.

    The product is taken as one rank-2 dot contracting the table's last axis
    as stored. Written as a rank-3 einsum or a matmul with a transposed table,
    XLA's CPU backend turns the one-token (decoding) case into a dot on a
    transposed copy of the whole table, rebuilt every step (for GPT-2 small,
    a 154 MB copy per generated token).
    """
    shape = ops.shape(hidden_states)
    flat = rows_2d(hidden_states, len(hidden_states.shape) - 1, hidden_states.shape[-1])
    logits = matmul_2d(flat, matrix, transpose_b=True)
    return ops.reshape(logits, (*shape[:-1], ops.shape(matrix)[0]))


@keras.saving.register_keras_serializable(package="tfmodels")
class WordEmbedding(keras.layers.Embedding):
    """A token embedding that can also project back onto the vocabulary.

    `call(token_ids)` looks up `(batch, seq_len) -> (batch, seq_len, dim)`;
    `call(hidden_states, reverse=True)` computes logits against the same
    matrix, `(batch, seq_len, dim) -> (batch, seq_len, vocab_size)`, which is
    how masked-LM and causal-LM heads tie their output weights to the input
    embeddings.

    Lookups check the ids first (`checked_lookup`): an id outside
    `[0, input_dim)` raises `ValueError` in eager mode and
    `tf.errors.InvalidArgumentError` in graphs (NaN embeddings under XLA).
    """

    def call(self, inputs, reverse=False):
        if reverse:
            return logits_against_rows(inputs, ops.cast(self.embeddings, inputs.dtype))
        return checked_lookup(super().call, inputs, self.input_dim)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)


@keras.saving.register_keras_serializable(package="tfmodels")
class TransformerEmbeddings(keras.layers.Layer):
    """Word + absolute position + token type embeddings, then LayerNorm and dropout.

    The BERT embedding block; flags cover its relatives: no token types
    (DistilBERT), no normalisation (Megatron-BERT), position ids counted from
    the padding token (RoBERTa, `position_padding_idx`), and a projection of
    factorised embeddings to the model width (ALBERT, ELECTRA,
    `projection_size`).

    Args:
        vocab_size: int, number of tokens.
        hidden_size: int, embedding width `E` (`embedding_size` in ALBERT and
            ELECTRA, `hidden_size` in BERT).
        max_position_embeddings: int or None; `None` disables learned positions.
        type_vocab_size: int, number of token types; `0` disables them.
        layer_norm_eps: float or None; `None` disables the LayerNorm.
        dropout: float, dropout rate on the output.
        initializer_range: float, stddev of the normal initialiser.
        word_embedding_size: int or None, width of the token table when it
            differs from `hidden_size`; token vectors are then projected to
            `hidden_size` by `embedding_transformation` before the sum
            (MobileBERT's `embedding_size`).
        trigram_input: bool, concatenate each token vector with its right and
            left neighbours (zeros at the edges) before that projection
            (MobileBERT).
        normalization: `"layer_norm"` or `"no_norm"` (MobileBERT's `NoNorm`).
        position_initializer: optional initializer of the position table
            (e.g. `SinusoidalInitializer()` for XLM's `sinusoidal_embeddings`);
            default: normal with `initializer_range`.
        position_padding_idx: int or None. When set, default position ids
            follow fairseq / `create_position_ids_from_input_ids`: tokens equal
            to this id get position `position_padding_idx`, the others
            `position_padding_idx + 1, + 2, ...` counting only non-padding
            tokens. `None`: `arange(seq_len)`.
        projection_size: int or None; when set, a dense layer maps the
            normalised embeddings `(..., hidden_size)` to
            `(..., projection_size)` (after dropout).
        dropout_first: bool, apply the dropout before the LayerNorm instead
            of after it (BigBird).
        word_embedding_scale: float or None, multiplier of the token vectors
            before the other terms are added (BigBird's `rescale_embeddings`:
            `sqrt(hidden_size)`).
        transformation_use_bias: bool, whether `embedding_transformation`
            has a bias (LUKE's `entity_embedding_dense` has none).
        type_vocab_sizes: tuple of ints or None; when set (instead of
            `type_vocab_size`), one token-type table per entry,
            `token_type_embeddings_{i}` with `type_vocab_sizes[i]` rows, and
            `token_type_ids` is `(batch, seq_len, len(type_vocab_sizes))`: the
            sum of every table's lookup is added (TAPAS's segment, column,
            row, rank ... ids).
        **kwargs: base layer arguments.

    Call args:
        input_ids: int tensor `(batch, seq_len)`.
        token_type_ids: optional int tensor `(batch, seq_len)` (`(batch,
            seq_len, len(type_vocab_sizes))` with `type_vocab_sizes`); zeros if absent.
        position_ids: optional int tensor `(batch, seq_len)` or `(1, seq_len)`;
            `arange(seq_len)` if absent. A `(batch, seq_len, span)` tensor
            gives each token the mean of the embeddings of its `span`
            positions, `-1` entries left out (LUKE's entity mentions).
        extra_embeddings: optional float tensor `(batch, seq_len, hidden_size)`
            added before the LayerNorm: how relatives add their own terms
            (LayoutLM's 2-D box embeddings, XLM's language embeddings).
        inputs_embeds: optional float tensor `(batch, seq_len, hidden_size)`
            used as the token vectors instead of looking up `input_ids`, which
            then only give the shape of the default position and token-type
            ids (MMBT's projected image features).
        training: bool, enables dropout.

    Returns:
        float tensor `(batch, seq_len, projection_size or hidden_size)`.

    Raises:
        ValueError: (eager; `tf.errors.InvalidArgumentError` in graphs) for
            `input_ids`, `token_type_ids` or `position_ids` outside their
            table (see `checked_lookup`).

    References:
        Devlin et al., "BERT", 2019. Liu et al., "RoBERTa", 2019 (padding-offset
        positions). Lan et al., "ALBERT", 2020 (factorised embeddings).
        Parity references: `transformers.models.bert.modeling_bert.BertEmbeddings`,
        `RobertaEmbeddings`, `AlbertEmbeddings` + `embedding_hidden_mapping_in`,
        `ElectraEmbeddings` + `embeddings_project`.
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
        position_initializer=None,
        word_embedding_size=None,
        trigram_input=False,
        normalization="layer_norm",
        position_padding_idx=None,
        projection_size=None,
        dropout_first=False,
        word_embedding_scale=None,
        transformation_use_bias=True,
        type_vocab_sizes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.transformation_use_bias = transformation_use_bias
        self.type_vocab_sizes = tuple(type_vocab_sizes) if type_vocab_sizes else None
        self.dropout_first = dropout_first
        self.word_embedding_scale = word_embedding_scale
        self.word_embedding_size = word_embedding_size
        self.trigram_input = trigram_input
        self.normalization = normalization
        self.position_initializer = keras.initializers.get(position_initializer) if position_initializer else None
        self.position_padding_idx = position_padding_idx
        self.projection_size = projection_size
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.dropout = dropout
        self.initializer_range = initializer_range
        init = keras.initializers.RandomNormal(stddev=initializer_range)
        self.word_embeddings = WordEmbedding(
            vocab_size, word_embedding_size or hidden_size, embeddings_initializer=clone_initializer(init),
            dtype=self.dtype_policy, name="word_embeddings",
        )
        self.embedding_transformation = None
        if trigram_input or (word_embedding_size or hidden_size) != hidden_size:
            self.embedding_transformation = keras.layers.Dense(
                hidden_size, use_bias=transformation_use_bias, kernel_initializer=clone_initializer(init),
                dtype=self.dtype_policy, name="embedding_transformation",
            )
        self.position_embeddings = None
        if max_position_embeddings:
            self.position_embeddings = keras.layers.Embedding(
                max_position_embeddings, hidden_size,
                embeddings_initializer=clone_initializer(self.position_initializer or init),
                dtype=self.dtype_policy, name="position_embeddings",
            )
        self.token_type_embeddings = None
        if type_vocab_size:
            self.token_type_embeddings = keras.layers.Embedding(
                type_vocab_size, hidden_size, embeddings_initializer=clone_initializer(init),
                dtype=self.dtype_policy, name="token_type_embeddings",
            )
        self.token_type_tables = [
            keras.layers.Embedding(size, hidden_size, embeddings_initializer=clone_initializer(init),
                                   dtype=self.dtype_policy, name=f"token_type_embeddings_{i}")
            for i, size in enumerate(self.type_vocab_sizes or ())
        ]
        self.layer_norm = None
        if layer_norm_eps is not None:
            self.layer_norm = make_normalization(
                normalization, epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
            )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.projection = None
        if projection_size:
            self.projection = keras.layers.Dense(
                projection_size, kernel_initializer=clone_initializer(init),
                dtype=self.dtype_policy, name="projection",
            )

    def build(self, input_shape):
        self.word_embeddings.build(input_shape)
        if self.embedding_transformation is not None:
            width = (self.word_embedding_size or self.hidden_size) * (3 if self.trigram_input else 1)
            self.embedding_transformation.build((*input_shape, width))
        if self.position_embeddings is not None:
            self.position_embeddings.build(input_shape)
        if self.token_type_embeddings is not None:
            self.token_type_embeddings.build(input_shape)
        for table in self.token_type_tables:
            table.build(input_shape)
        if self.layer_norm is not None:
            self.layer_norm.build((*input_shape, self.hidden_size))
        if self.projection is not None:
            self.projection.build((*input_shape, self.hidden_size))
        self.built = True

    def call(self, input_ids, token_type_ids=None, position_ids=None, extra_embeddings=None, inputs_embeds=None,
             training=None):
        if inputs_embeds is not None:
            x = ops.cast(inputs_embeds, self.compute_dtype)  # vectors given instead of looked up (MMBT's modality)
        else:
            x = self._token_vectors(input_ids)
        if self.position_embeddings is not None:
            if position_ids is None:
                position_ids = self.default_position_ids(input_ids)
            if len(position_ids.shape) == 3:
                x = x + self._mention_position_embeddings(position_ids)
            else:
                x = x + checked_lookup(self.position_embeddings, position_ids, self.max_position_embeddings,
                                       "position_ids", "max_position_embeddings")
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                x = x + self.token_type_embeddings(ops.zeros_like(input_ids))
            else:
                x = x + checked_lookup(self.token_type_embeddings, token_type_ids, self.type_vocab_size,
                                       "token_type_ids", "type_vocab_size")
        for i, table in enumerate(self.token_type_tables):
            if token_type_ids is None:
                x = x + table(ops.zeros_like(input_ids))
            else:
                x = x + checked_lookup(table, token_type_ids[..., i], self.type_vocab_sizes[i],
                                       f"token_type_ids[..., {i}]", f"type_vocab_sizes[{i}]")
        if extra_embeddings is not None:
            x = x + extra_embeddings
        if self.dropout_first:
            x = self.dropout_layer(x, training=training)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        if not self.dropout_first:
            x = self.dropout_layer(x, training=training)
        if self.projection is not None:
            x = self.projection(x)  # (batch, seq_len, projection_size)
        return x

    def _mention_position_embeddings(self, position_ids):
        """Mean position embedding over the last axis of `(batch, seq_len, span)` ids, `-1` = none."""
        valid = ops.not_equal(position_ids, -1)
        table = checked_lookup(self.position_embeddings, ops.where(valid, position_ids, 0),
                               self.max_position_embeddings, "position_ids", "max_position_embeddings")
        weights = ops.cast(valid, table.dtype)[..., None]  # (batch, seq_len, span, 1)
        total = ops.sum(table * weights, axis=-2)  # (batch, seq_len, hidden)
        return total / ops.maximum(ops.sum(weights, axis=-2), ops.cast(1e-7, table.dtype))

    def _token_vectors(self, input_ids):
        x = self.word_embeddings(input_ids)  # (batch, seq_len, word_embedding_size or hidden)
        if self.trigram_input:
            zeros = ops.zeros_like(x[:, :1])
            next_tokens = ops.concatenate([x[:, 1:], zeros], axis=1)
            previous_tokens = ops.concatenate([zeros, x[:, :-1]], axis=1)
            x = ops.concatenate([next_tokens, x, previous_tokens], axis=-1)  # (batch, seq_len, 3 * E)
        if self.embedding_transformation is not None:
            x = self.embedding_transformation(x)  # (batch, seq_len, hidden)
        if self.word_embedding_scale is not None:
            x = x * ops.cast(self.word_embedding_scale, x.dtype)
        return x

    def default_position_ids(self, input_ids):
        """Position ids used when none are given: `(1, seq_len)`, or `(batch, seq_len)` padding-offset ids."""
        if self.position_padding_idx is None:
            return ops.arange(ops.shape(input_ids)[1], dtype="int32")[None, :]
        return padding_offset_positions(input_ids, self.position_padding_idx)  # (batch, seq_len)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.projection_size or self.hidden_size)

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
            "word_embedding_size": self.word_embedding_size,
            "trigram_input": self.trigram_input,
            "normalization": self.normalization,
            "position_initializer": (
                keras.initializers.serialize(self.position_initializer) if self.position_initializer else None
            ),
            "position_padding_idx": self.position_padding_idx,
            "projection_size": self.projection_size,
            "dropout_first": self.dropout_first,
            "word_embedding_scale": self.word_embedding_scale,
            "transformation_use_bias": self.transformation_use_bias,
            "type_vocab_sizes": self.type_vocab_sizes,
        }

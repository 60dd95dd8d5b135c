"""Axial position embeddings: a factorised position table (Reformer)."""

import math

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="tfmodels")
class AxialPositionEmbedding(keras.layers.Layer):
    """Position `p` embedded by concatenating one small table per axis of a factorised position grid.

    With `axial_pos_shape = (d1, d2)` and `axial_pos_embds_dim = (e1, e2)`,
    position `p = i * d2 + j` (row-major in the grid) is embedded as
    `concat(W1[i], W2[j])`, `W1 (d1, e1)`, `W2 (d2, e2)`: `d1 * d2`
    positions from `d1 * e1 + d2 * e2` numbers. Any number of axes works the
    same way. The variables keep the reference's broadcastable layout: axis
    `a`'s weight has shape `(1, ..., d_a, ..., 1, e_a)`.

    In training with `dropout > 0` and a 2-axis grid, whole `(d1, e)` slices
    are dropped per grid column and example (the reference's `dropout2d` on
    the transposed grid); otherwise (and in inference) there is no dropout.

    Args:
        axial_pos_shape: sequence of ints `(d1, d2, ...)`; their product is
            the number of positions.
        axial_pos_embds_dim: sequence of ints `(e1, e2, ...)`, one per axis;
            they sum to the embedding width.
        dropout: float, see above.
        embeddings_initializer: initializer of the per-axis weights
            (the reference: `N(0, axial_norm_std)`).
        **kwargs: base layer arguments.

    Call args:
        position_ids: int tensor `(B, S)`, each `< prod(axial_pos_shape)`.
        training: bool.

    Returns:
        float tensor `(B, S, sum(axial_pos_embds_dim))`.

    Raises:
        ValueError: if the two sequences differ in length or hold non-positive sizes.

    References:
        Kitaev et al., "Reformer: The Efficient Transformer", 2020; parity reference
        `transformers.models.reformer.modeling_reformer.AxialPositionEmbeddings`.
    """

    def __init__(self, axial_pos_shape, axial_pos_embds_dim, dropout=0.0,
                 embeddings_initializer="random_normal", **kwargs):
        super().__init__(**kwargs)
        self.axial_pos_shape = tuple(int(d) for d in axial_pos_shape)
        self.axial_pos_embds_dim = tuple(int(e) for e in axial_pos_embds_dim)
        if len(self.axial_pos_shape) != len(self.axial_pos_embds_dim) or min(
                self.axial_pos_shape + self.axial_pos_embds_dim, default=0) <= 0:
            raise ValueError(
                "axial_pos_shape and axial_pos_embds_dim need one positive size per axis. Received: "
                f"axial_pos_shape={axial_pos_shape}, axial_pos_embds_dim={axial_pos_embds_dim}")
        self.dropout = dropout
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.num_positions = math.prod(self.axial_pos_shape)

    def build(self, input_shape=None):
        self.axial_weights = []
        for axis, dim in enumerate(self.axial_pos_embds_dim):
            shape = [1] * len(self.axial_pos_shape)
            shape[axis] = self.axial_pos_shape[axis]
            self.axial_weights.append(self.add_weight(
                shape=(*shape, dim), initializer=self.embeddings_initializer, name=f"weights_{axis}"))
        if self.dropout and len(self.axial_pos_shape) == 2:
            self.grid_dropout = keras.layers.Dropout(self.dropout, noise_shape=(None, 1, self.axial_pos_shape[1], 1),
                                                     dtype=self.dtype_policy)
        self.built = True

    def table(self):
        """The whole table, `(prod(axial_pos_shape), sum(axial_pos_embds_dim))`."""
        parts = [ops.broadcast_to(w, (*self.axial_pos_shape, w.shape[-1])) for w in self.axial_weights]
        return ops.reshape(ops.concatenate(parts, axis=-1), (self.num_positions, -1))

    def call(self, position_ids, training=None):
        table = self.table()
        if training and self.dropout and len(self.axial_pos_shape) == 2:
            batch = ops.shape(position_ids)[0]
            grid = ops.broadcast_to(ops.reshape(table, (1, *self.axial_pos_shape, -1)),
                                    (batch, *self.axial_pos_shape, table.shape[-1]))
            grid = ops.reshape(self.grid_dropout(grid, training=training), (batch, self.num_positions, -1))
            return tf.gather(grid, ops.cast(position_ids, "int32"), batch_dims=1)
        return ops.take(table, ops.cast(position_ids, "int32"), axis=0)

    def get_config(self):
        return {**super().get_config(), "axial_pos_shape": list(self.axial_pos_shape),
                "axial_pos_embds_dim": list(self.axial_pos_embds_dim), "dropout": self.dropout,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer)}

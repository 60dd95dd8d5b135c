"""Segmented tensors: reductions and gathers over groups of entries (TAPAS's table cells, rows, columns).

An `IndexMap` assigns every entry of a `(batch, ..., seq_len)` tensor to one
of `num_segments` segments per batch element (a token to its column, row or
cell). The reductions return one value per segment, `(batch, num_segments)`,
and `gather` maps segment values back onto the entries. Batch elements never
share a segment: the batch is flattened with per-element offsets before the
`tf.math.unsorted_segment_*` op runs.

Empty segments reduce to 0 (sum, mean, max and min alike), as the reference's
`scatter_reduce(..., include_self=False)` into zeros. Reductions compute in
float32 and return `values`' dtype (integer labels come back as integers).
Everything has static shapes when the inputs do, so it compiles under XLA
(`num_segments * batch` is a compile-time constant there).

References:
    Herzig et al., "TaPas: Weakly Supervised Table Parsing via
    Pre-training", ACL 2020. Parity reference: the segmented-tensor
    utilities of `transformers.models.tapas.modeling_tapas` (`IndexMap`,
    `ProductIndexMap`, `gather`, `flatten`, `reduce_sum`/`mean`/`max`/`min`).
"""

import tensorflow as tf


class IndexMap:
    """Groups the entries of a tensor into segments.

    Args:
        indices: int tensor `(batch, seq_len)` (any trailing rank), the segment
            of each entry, in `[0, num_segments)`.
        num_segments: int, segments per batch element (many may be empty).
        batch_dims: int, leading dimensions that are batch dimensions.
    """

    def __init__(self, indices, num_segments, batch_dims=0):
        self.indices = tf.convert_to_tensor(indices)
        self.num_segments = int(num_segments)
        self.batch_dims = batch_dims

    def batch_shape(self):
        """The dynamic shape of the batch dimensions, int32 `(batch_dims,)`."""
        return tf.shape(self.indices)[: self.batch_dims]


class ProductIndexMap(IndexMap):
    """The product of two index maps: segment `(i, j)` is the intersection of `outer` `i` and `inner` `j`.

    The pair `(i, j)` becomes `i * inner.num_segments + j`, so rows (outer)
    and columns (inner) give one segment per table cell.

    Raises:
        ValueError: if the two maps have different `batch_dims`.
    """

    def __init__(self, outer_index, inner_index):
        if outer_index.batch_dims != inner_index.batch_dims:
            raise ValueError(
                "outer_index.batch_dims and inner_index.batch_dims must be the same. Received: "
                f"{outer_index.batch_dims} and {inner_index.batch_dims}"
            )
        super().__init__(
            indices=inner_index.indices + outer_index.indices * inner_index.num_segments,
            num_segments=inner_index.num_segments * outer_index.num_segments,
            batch_dims=inner_index.batch_dims,
        )
        self.outer_index = outer_index
        self.inner_index = inner_index

    def project_outer(self, index):
        """The outer component (`i`) of an index over this map's segments."""
        return IndexMap(index.indices // self.inner_index.num_segments, self.outer_index.num_segments,
                        index.batch_dims)

    def project_inner(self, index):
        """The inner component (`j`) of an index over this map's segments."""
        return IndexMap(tf.math.floormod(index.indices, self.inner_index.num_segments),
                        self.inner_index.num_segments, index.batch_dims)


def gather(values, index):
    """Looks up each entry's segment value: `(batch, num_segments[, V...])` -> `(batch, seq_len[, V...])`."""
    return tf.gather(values, tf.cast(index.indices, tf.int32), batch_dims=index.batch_dims)


def flatten(index):
    """A batched index as one 1-D index: batch element `k`'s segments shifted by `k * num_segments`.

    Returns:
        `IndexMap` with `batch_dims=0` and `num_segments * batch` segments
        (a tensor when the batch size is only known at run time).
    """
    batch_shape = index.batch_shape()
    batch_size = tf.reduce_prod(batch_shape)
    offset = tf.reshape(tf.range(batch_size) * index.num_segments, batch_shape)
    rank = index.indices.shape.rank
    offset = tf.reshape(offset, tf.concat([batch_shape, tf.ones([rank - index.batch_dims], tf.int32)], 0))
    indices = tf.reshape(tf.cast(index.indices, tf.int32) + offset, [-1])
    flat = IndexMap(indices, 1, batch_dims=0)
    flat.num_segments = index.num_segments * batch_size
    return flat


def range_index_map(batch_shape, num_segments):
    """`IndexMap` of shape `batch_shape + (num_segments,)` holding `range(num_segments)` per batch element."""
    batch_shape = tf.convert_to_tensor(batch_shape, tf.int32)
    indices = tf.broadcast_to(tf.range(num_segments), tf.concat([batch_shape, [num_segments]], 0))
    return IndexMap(indices, num_segments, batch_dims=int(batch_shape.shape[0]))


_REDUCERS = {
    "sum": tf.math.unsorted_segment_sum,
    "mean": tf.math.unsorted_segment_sum,  # divided by the counts below
    "max": tf.math.unsorted_segment_max,
    "min": tf.math.unsorted_segment_min,
}


def _segment_reduce(values, index, reduction):
    values = tf.convert_to_tensor(values)
    flat_index = flatten(index)
    index_rank = index.indices.shape.rank
    vector_shape = tf.shape(values)[index_rank:]
    flat_values = tf.reshape(tf.cast(values, tf.float32), tf.concat([[-1], vector_shape], 0))
    ids, num_segments = flat_index.indices, flat_index.num_segments
    reduced = _REDUCERS[reduction](flat_values, ids, num_segments)
    if reduction != "sum":
        counts = tf.math.unsorted_segment_sum(tf.ones_like(ids, tf.float32), ids, num_segments)
        counts = tf.reshape(counts, tf.concat([[-1], tf.ones_like(vector_shape)], 0))
        if reduction == "mean":
            reduced = reduced / tf.maximum(counts, 1.0)
        else:  # empty segments hold the dtype's lowest/highest value: 0 as the reference
            reduced = tf.where(counts > 0, reduced, tf.zeros_like(reduced))
    batch_shape = index.batch_shape()
    new_shape = tf.concat([batch_shape, [index.num_segments], vector_shape], 0)
    output = tf.cast(tf.reshape(reduced, new_shape), values.dtype)
    return output, range_index_map(batch_shape, index.num_segments)


def reduce_sum(values, index):
    """Sums `values (batch, seq_len[, V...])` per segment.

    Returns:
        `(output, output_index)`: `(batch, num_segments[, V...])` sums (0 for
        empty segments) and the `range_index_map` of the segments.
    """
    return _segment_reduce(values, index, "sum")


def reduce_mean(values, index):
    """Averages `values` per segment (0 for empty segments); returns `(output, output_index)` as `reduce_sum`."""
    return _segment_reduce(values, index, "mean")


def reduce_max(values, index):
    """Maximum of `values` per segment (0 for empty segments); returns `(output, output_index)` as `reduce_sum`."""
    return _segment_reduce(values, index, "max")


def reduce_min(values, index):
    """Minimum of `values` per segment (0 for empty segments); returns `(output, output_index)` as `reduce_sum`."""
    return _segment_reduce(values, index, "min")

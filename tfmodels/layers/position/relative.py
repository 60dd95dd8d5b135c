"""Relative positions between queries and keys, and their bucketings.

Pure functions of the lengths (static shapes, XLA-friendly), shared by the
attention variants that index relative-position tables:

- `relative_positions`: the signed distance `query_pos - key_pos`.
- `log_bucket_positions`: DeBERTa-v2's log buckets (exact near zero,
  logarithmic up to `max_position`).
- `t5_bucket_positions`: T5/MPNet buckets (bidirectional or causal,
  `num_buckets`, `max_distance`).
"""

import math

from keras import ops


def relative_positions(query_len, key_len, offset=0):
    """Signed distances `(query_len, key_len)`: entry `[i, j] = (i + offset) - j`, int32.

    Args:
        query_len: int or scalar tensor.
        key_len: int or scalar tensor.
        offset: position of the first query among the keys.
    """
    rows = ops.arange(query_len, dtype="int32")[:, None] + offset
    cols = ops.arange(key_len, dtype="int32")[None, :]
    return rows - cols


def log_bucket_positions(relative_pos, bucket_size, max_position):
    """DeBERTa-v2 log-bucketed relative positions.

    Distances with `|d| < bucket_size // 2` keep their value; larger ones are
    mapped logarithmically so that `max_position - 1` lands on bucket
    `bucket_size - 1` (sign kept). Computed in float32 as the reference does.

    Args:
        relative_pos: int tensor of signed distances, any shape.
        bucket_size: int, `position_buckets` (> 0).
        max_position: int, `max_relative_positions` (> 0).

    Returns:
        int32 tensor shaped like `relative_pos`, values in
        `[-bucket_size + 1, bucket_size - 1]` (for distances < `max_position`).

    References:
        He et al., "DeBERTa: Decoding-enhanced BERT with Disentangled
        Attention", 2021. Parity reference:
        `transformers.models.deberta_v2.modeling_deberta_v2.make_log_bucket_position`.
    """
    relative_pos = ops.cast(relative_pos, "int32")
    sign = ops.sign(relative_pos)
    mid = bucket_size // 2
    inside = ops.logical_and(relative_pos < mid, relative_pos > -mid)
    abs_pos = ops.where(inside, mid - 1, ops.abs(relative_pos))
    abs_float = ops.cast(abs_pos, "float32")
    log_scale = ops.cast(math.log((max_position - 1) / mid), "float32")
    log_pos = ops.ceil(ops.log(abs_float / mid) / log_scale * (mid - 1)) + mid
    bucket = ops.where(abs_pos <= mid, ops.cast(relative_pos, "float32"), log_pos * ops.cast(sign, "float32"))
    return ops.cast(bucket, "int32")


def t5_bucket_positions(relative_pos, bidirectional=True, num_buckets=32, max_distance=128):
    """T5 / MPNet relative position buckets.

    Half of the buckets (per direction when bidirectional) hold exact small
    distances; the rest grow logarithmically up to `max_distance`, beyond which
    every distance shares the last bucket.

    Args:
        relative_pos: int tensor of `key_pos - query_pos` (note the sign: T5
            and MPNet use memory minus context position).
        bidirectional: bool; `False` (causal) maps all positive distances to 0.
        num_buckets: int, number of buckets.
        max_distance: int, distance where the last bucket starts.

    Returns:
        int32 tensor of bucket ids in `[0, num_buckets)`, shaped like `relative_pos`.

    References:
        Raffel et al., "Exploring the Limits of Transfer Learning with a Unified
        Text-to-Text Transformer", 2020; Song et al., "MPNet", 2020. Parity
        reference: `transformers.models.mpnet.modeling_mpnet.MPNetEncoder.relative_position_bucket`.
    """
    n = -ops.cast(relative_pos, "int32")
    buckets = ops.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + ops.cast(n < 0, "int32") * num_buckets
        n = ops.abs(n)
    else:
        n = ops.maximum(n, 0)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    n_float = ops.cast(ops.maximum(n, 1), "float32")
    large = max_exact + ops.cast(
        ops.log(n_float / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact), "int32"
    )
    large = ops.minimum(large, num_buckets - 1)
    return buckets + ops.where(is_small, n, large)

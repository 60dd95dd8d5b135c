"""Funnel-Transformer relative position inputs (both attention forms).

For `attention_type="relative_shift"` each block gets two tables of
sinusoidal embeddings of relative distances: one for attention within the
block and one for the pooling attention (queries pooled, keys not). For
`"factorized"` the model uses four `(L, D)` matrices `(phi, pi, psi, omega)`
(paper appendix A.2.2). Distances depend only on the static sequence length
and the pooling flags, so they are computed in Python.

References:
    Dai et al., "Funnel-Transformer", NeurIPS 2020, appendix A.2.
    Parity reference: `transformers` `FunnelAttentionStructure.get_position_embeds`.
"""

from keras import ops

from tfmodels.layers.position.sinusoidal import inverse_frequencies, sinusoidal_embeddings


def stride_pool_positions(positions, block_index, separate_cls=True, truncate_seq=True):
    """Positions after pooling into block `block_index` (the [CLS] gets `1 - 2**block_index`)."""
    if not separate_cls:
        return positions[::2]
    body = positions[1:-1] if truncate_seq else positions[1:]
    return [-(2**block_index) + 1] + body[::2]


def relative_distances(positions, stride, pooled_positions=None, shift=1):
    """Relative distances (largest first) between `pooled_positions` and `positions`."""
    if pooled_positions is None:
        pooled_positions = positions
    ref_point = pooled_positions[0] - positions[0]
    max_dist = ref_point + shift * len(pooled_positions) * stride
    min_dist = pooled_positions[0] - positions[-1]
    return list(range(max_dist, min_dist - 1, -stride))


def relative_shift_distances(seq_len, num_blocks, separate_cls=True, truncate_seq=True):
    """Per block, `(distances_within_block, distances_for_pooling or None)`."""
    positions = list(range(seq_len))
    pooled = positions
    result = []
    for block_index in range(num_blocks):
        pooling = None
        if block_index > 0:
            pooled = stride_pool_positions(positions, block_index, separate_cls, truncate_seq)
            pooling = relative_distances(positions, 2 ** (block_index - 1), pooled, shift=2)
        positions = pooled
        result.append((relative_distances(positions, 2**block_index), pooling))
    return result


def relative_shift_embeddings(seq_len, d_model, num_blocks, separate_cls=True, truncate_seq=True, dropout=None,
                              training=None):
    """Sinusoidal tables `[(within (R, D), pooling (R', D) or None), ...]` per block.

    Args:
        dropout: optional callable `(x, training)` applied to the sin and cos halves.
    """
    result = []
    for within, pooling in relative_shift_distances(seq_len, num_blocks, separate_cls, truncate_seq):
        tables = []
        for distances in (within, pooling):
            if distances is None:
                tables.append(None)
                continue
            table = sinusoidal_embeddings(ops.array(distances, dtype="float32"), d_model)
            if dropout is not None:
                half = d_model // 2
                table = ops.concatenate(
                    [dropout[0](table[:, :half], training=training), dropout[1](table[:, half:], training=training)],
                    axis=-1,
                )
            tables.append(table)
        result.append(tuple(tables))
    return result


def factorized_embeddings(seq_len, d_model, dropout=None, training=None):
    """The four `(L, D)` matrices `(phi, pi, psi, omega)` of the factorized form.

    Args:
        dropout: optional pair of callables `(x, training)` for sin and cos
            (applied to `phi` and `pi` only, as in the reference).
    """
    positions = ops.cast(ops.arange(seq_len), "float32")
    sinusoid = positions[:, None] * inverse_frequencies(d_model)[None, :]  # (L, D / 2)
    sin, cos = ops.sin(sinusoid), ops.cos(sinusoid)
    sin_d, cos_d = sin, cos
    if dropout is not None:
        sin_d, cos_d = dropout[0](sin, training=training), dropout[1](cos, training=training)
    phi = ops.concatenate([sin_d, sin_d], axis=-1)
    psi = ops.concatenate([cos, sin], axis=-1)
    pi = ops.concatenate([cos_d, cos_d], axis=-1)
    omega = ops.concatenate([-sin, cos], axis=-1)
    return (phi, pi, psi, omega)

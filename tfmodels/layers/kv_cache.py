"""The KV cache: its layout, allocation, the causal mask over it, and the length checks.

One layout for every self-attention cache (decoder-only LMs, encoder
causal-LM heads, encoder-decoder decoders): per layer a float tensor
`(batch, 2, num_heads, max_length, head_dim)`, keys then values, written in
place by `MultiHeadAttention` at `cache_update_index` (see its `cache`
argument). Head-major, the layout of the attention matmuls. With the
slots-major layout `(batch, 2, max_length, num_heads, head_dim)` used
before, XLA transposed (copied) both halves of every layer's cache at
every decoding step. Head-major, the values are still sliced out of the
tensor, but without a transpose. The keys are still copied into the
layout XLA's batched dot takes, `(N, H, slots)`. For GPT-2 with 512
slots, the copies fell from 6.4 to 3.1 ms per token (TF profiler), out of
31 and then 24 ms. A pass with a cache attends over all `max_length` slots, so its
padding mask covers every slot (0 for padding and for slots not written yet)
and the causal mask places the queries at `cache_update_index`.

- `init_kv_cache`: the zero caches;
- `write_kv_cache`: a pass's keys/values written at its index (every attention layer's one write);
- `cache_span`: `(offset, key_len)` of a pass, with or without a cache;
- `causal_attention_mask`: causal (optionally banded) & padding, over the
  cache when there is one: the one place a decoder's self-attention mask is built;
- `check_sequence_length`: the one check (and message) of a sequence against
  a position table.

Cross-attention keys/values `(batch, 2, source_len, num_heads, head_dim)` are
projected once per `generate()` call (`MultiHeadAttention.project_key_value`)
and never written.
"""

import tensorflow as tf
from keras import ops

from tfmodels.layers.masks import attention_mask_to_bool, causal_mask, merge_masks


def init_kv_cache(batch_size, max_length, num_heads, head_dim, num_layers, dtype="float32"):
    """Zero self-attention caches, one `(batch_size, 2, num_heads, max_length, head_dim)` tensor per layer.

    Args:
        batch_size: int (or scalar tensor), the cached rows.
        max_length: int (or scalar tensor), the cache slots.
        num_heads: int, the attention heads `N`.
        head_dim: int, the size per head `H`.
        num_layers: int, applied layers (with shared blocks: applications, not distinct blocks).
        dtype: the cache dtype (the model's compute dtype).

    Returns:
        tuple of `num_layers` float tensors.
    """
    shape = (batch_size, 2, num_heads, max_length, head_dim)
    return tuple(ops.zeros(shape, dtype=dtype) for _ in range(num_layers))


def write_kv_cache(cache, cache_update_index, key, value):
    """Writes a pass's keys/values `(B, T, N, H)` into `cache` `(B, 2, N, L, H)` at `cache_update_index`.

    Returns:
        `(keys (B, N, L, H), values (B, N, L, H), updated cache (B, 2, N, L, H))`, head-major, in the cache dtype.

    Raises:
        ValueError: `cache_update_index` is `None`, or `cache` is not `(B, 2, N, L, H)` for these keys
            (e.g. a cache made in the slots-major layout `(B, 2, L, N, H)` of earlier releases).
    """
    if cache_update_index is None:
        raise ValueError("`cache_update_index` is required when `cache` is given.")
    heads, head_dim = key.shape[2], key.shape[3]
    expected = (2, heads, head_dim)
    if len(cache.shape) != 5 or any(a is not None and b is not None and a != b
                                    for a, b in zip((cache.shape[1], cache.shape[2], cache.shape[4]), expected)):
        raise ValueError(f"A KV cache is (batch, 2, num_heads, max_length, head_dim); for keys of shape "
                         f"{tuple(key.shape)} (batch, T, num_heads={heads}, head_dim={head_dim}) that is "
                         f"(batch, 2, {heads}, max_length, {head_dim}). Received: cache of shape {tuple(cache.shape)}. "
                         "Make caches with init_kv_cache / the model's init_cache.")
    # One in-place write of the new keys/values (B, 2, N, T, H); re-stacking separately
    # updated halves would copy the whole cache at every step.
    new = ops.transpose(ops.stack([ops.cast(key, cache.dtype), ops.cast(value, cache.dtype)], axis=1),
                        (0, 1, 3, 2, 4))  # (B, 2, N, T, H): only the pass's rows move
    cache = ops.slice_update(cache, [0, 0, 0, cache_update_index, 0], new)  # (B, 2, N, L, H)
    return cache[:, 0], cache[:, 1], cache


def cache_span(query_len, cache=None, cache_update_index=None):
    """Where a pass's queries sit among its keys: `(offset, key_len)`.

    Args:
        query_len: int or scalar tensor, `T`.
        cache: optional one layer's cache `(batch, 2, N, max_length, H)`.
        cache_update_index: int or scalar int tensor, the first query's slot
            (default 0).

    Returns:
        `(offset, key_len)`: `(0, query_len)` without a cache, else
        `(cache_update_index, max_length)`.

    Raises:
        ValueError: when the (static) queries do not fit in the cache from
            `cache_update_index` on.
    """
    if cache is None:
        return 0, query_len
    offset = 0 if cache_update_index is None else cache_update_index
    key_len = ops.shape(cache)[3]
    if all(isinstance(v, int) for v in (offset, query_len, key_len)) and offset + query_len > key_len:
        raise ValueError(f"The cache holds {key_len} positions; {query_len} queries written from "
                         f"cache_update_index={offset} do not fit. Allocate a longer cache (init_cache).")
    return offset, key_len


def causal_attention_mask(query_len, attention_mask=None, cache=None, cache_update_index=None, window_size=None):
    """A decoder's self-attention mask: causal (banded with `window_size`) & padding, over the cache if any.

    Args:
        query_len: int or scalar tensor, `T`.
        attention_mask: optional 0/1 (nonzero = attend) tensor `(batch, key_len)` or
            `(batch, T, key_len)`; with a cache `key_len` is the cache length.
        cache: see `cache_span`.
        cache_update_index: see `cache_span`.
        window_size: optional int, local attention over the last `window_size` keys (GPT-Neo).

    Returns:
        bool tensor `(batch | 1, 1, T, key_len)`.
    """
    offset, key_len = cache_span(query_len, cache, cache_update_index)
    padding = None
    if attention_mask is not None:
        padding = attention_mask_to_bool(ops.not_equal(attention_mask, 0))
    return merge_masks(causal_mask(query_len, key_len, offset, window_size=window_size), padding)


def check_sequence_length(input_ids, max_positions, model_name, position_offset=0):
    """Raises a clear error for sequences longer than the position table.

    Checked when the length is static (always in eager mode); in graphs with
    a dynamic length, an in-graph assertion carries the same message.

    Args:
        input_ids: int tensor `(batch, seq_len)`.
        max_positions: int, rows of the position table (`max_position_embeddings`, `n_positions`).
        model_name: str, named in the message.
        position_offset: positions used before the first token (RoBERTa:
            `pad_token_id + 1`); the limit is `max_positions - position_offset`.

    Raises:
        ValueError: if `seq_len > max_positions - position_offset`.
    """
    limit = max_positions - position_offset
    table = f"its position table has {max_positions} rows"
    if position_offset:
        table += f", the first {position_offset} before the first token"
    message = (f"{model_name} accepts at most {limit} tokens per sequence ({table}). Truncate the input, "
               f"e.g. tokenizer(..., truncation=True, max_length={limit}).")
    seq_len = input_ids.shape[1]
    if seq_len is not None:
        if seq_len > limit:
            raise ValueError(f"{message} Received: sequence length {seq_len}.")
        return
    tf.debugging.assert_less_equal(tf.shape(input_ids)[1], limit, message=message)

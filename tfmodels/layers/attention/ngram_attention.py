"""ProphetNet's n-gram self-attention: one main stream and `ngram` predict streams in one layer.

The decoder input is the main stream (the shifted target, as any decoder)
followed by `ngram` predict streams of the same length, concatenated along the
sequence axis: `(B, (1 + G) * T, D)`. Every stream is projected by the same
query/key/value/output kernels. The main stream is causal self-attention over
itself (cached when decoding). Predict stream `g` at position `t` attends to
the main stream's keys/values at positions it may see (`ngram_predict_mask`)
and to its own position in stream `g`, with keys `[main keys ; stream g keys]`
`(S + T)`. Both add a relative position bias whose per-bucket, per-head values
come from a linear map of each query's hidden state
(`relative_pos_embeddings`, `D -> num_buckets * N`), indexed by bucketed
relative positions (`t5_bucket_positions`, causal).

Size glossary: B batch, G `ngram`, T stream length (decoder tokens), S main
keys (T, or the cache length), D width, N heads, H head width, K `num_buckets`.

The masks and buckets of a pass are the same in every layer: the decoder
computes them once (`ngram_stream_masks`, `ngram_relative_buckets`) and
passes them to each block.

References:
    Qi et al., "ProphetNet: Predicting Future N-gram for Sequence-to-Sequence
    Pre-training", Findings of EMNLP 2020. Parity reference:
    `transformers.models.prophetnet.modeling_prophetnet.ProphetNetNgramSelfAttention`,
    `ngram_attention_bias`, `compute_all_stream_relative_buckets`,
    `ProphetNetDecoder.compute_buffered_relative_buckets` (PyTorch).
"""

import keras
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.kv_cache import write_kv_cache
from tfmodels.layers.masks import causal_mask, masked_softmax, merge_masks, padding_mask
from tfmodels.layers.position.relative import t5_bucket_positions
from tfmodels.layers.utils import clone_initializer


def ngram_relative_buckets(query_len, num_buckets, max_distance, cache_length=None, cache_update_index=None,
                           position_shift=0):
    """Relative-position buckets of the main and predict streams.

    Without a cache (teacher forcing over `T` tokens), as the reference's
    buffered buckets: main `bucket(j - i)` `(T, T)`; predict `[bucket(j - i - 1)
    over the main keys ; bucket(j - i + 1) over the stream's own keys]`
    `(T, 2T)` (the reference slices its predict-key table one column on).

    With a cache of `cache_length` slots and one query at `cache_update_index`
    `t` (the reference's cached formula, query position `t + 1 +
    position_shift`, `position_shift` being its `pad_token_id` offset): main
    `bucket(j - t - shift)` `(1, L)`; predict `[bucket(j - t - 1 - shift) ;
    bucket(-shift)]` `(1, L + 1)`.

    Args:
        query_len: int, `T` (1 with a cache).
        num_buckets, max_distance: the bucketing (`num_buckets`, `relative_max_distance`).
        cache_length: int or None, `L`.
        cache_update_index: int or scalar int tensor, `t`.
        position_shift: int, the reference's position offset in its cached formula.

    Returns:
        `(main (T, S), predict (T, S + T))` int32 buckets.
    """
    def bucket(relative):
        return t5_bucket_positions(relative, bidirectional=False, num_buckets=num_buckets, max_distance=max_distance)

    if cache_length is None:
        rows = ops.arange(query_len, dtype="int32")[:, None]
        cols = ops.arange(query_len, dtype="int32")[None, :]
        main = bucket(cols - rows)
        return main, ops.concatenate([bucket(cols - rows - 1), bucket(cols - rows + 1)], axis=1)
    t = ops.cast(cache_update_index, "int32") + position_shift
    cols = ops.arange(cache_length, dtype="int32")[None, :]  # (1, L)
    own = bucket(ops.zeros((1, 1), "int32") - position_shift)
    return bucket(cols - t), ops.concatenate([bucket(cols - t - 1), own], axis=1)


def ngram_stream_masks(query_len, ngram, decoder_attention_mask=None, cache_length=None, cache_update_index=None):
    """Boolean masks (`True` = attend) of the main and predict streams.

    Without a cache: main = causal & decoder padding `(B | 1, 1, T, T)`;
    predict stream `g` (0-based) at position `i` sees main key `j` when `j < i
    + 1 - g` or `j == 0` (the reference's `ngram_attention_bias`), and not
    padding, plus its own position only among its stream's keys:
    `(B | 1, G, T, 2T)`.

    With a cache (one query at `cache_update_index` `t`, `L` slots): as the
    reference's cached pass, no padding and no n-gram mask: every stream sees
    the main keys written so far (`j <= t`), predict streams also their own
    position: main `(1, 1, 1, L)`, predict `(1, G, 1, L + 1)`.

    Args:
        query_len: int, `T`.
        ngram: int, `G`.
        decoder_attention_mask: optional int/bool `(B, T)`, 0 on padding (no cache only).
        cache_length, cache_update_index: see `ngram_relative_buckets`.

    Returns:
        `(main_mask, predict_mask)` bool tensors.
    """
    if cache_length is not None:
        main = causal_mask(query_len, cache_length, offset=cache_update_index)  # (1, 1, 1, L)
        own = ops.ones((1, 1, query_len, 1), "bool")
        predict = ops.concatenate([main, own], axis=-1)  # (1, 1, 1, L + 1)
        return main, ops.broadcast_to(predict, (1, ngram, query_len, cache_length + 1))
    padding = None if decoder_attention_mask is None else padding_mask(decoder_attention_mask)  # (B, 1, 1, T)
    main = merge_masks(causal_mask(query_len, query_len), padding)
    rows = ops.arange(query_len, dtype="int32")[None, :, None]
    cols = ops.arange(query_len, dtype="int32")[None, None, :]
    stream = ops.arange(ngram, dtype="int32")[:, None, None]
    left = ops.logical_or(cols - rows < 1 - stream, ops.equal(cols, 0))[None]  # (1, G, T, T)
    if padding is not None:
        left = ops.logical_and(left, padding[:, :, 0][:, :, None, :])  # (B, G, T, T)
    right = ops.broadcast_to(ops.equal(rows, cols)[None], ops.shape(left))
    return main, ops.concatenate([left, right], axis=-1)


def once_masked_keys(query_len, decoder_attention_mask):
    """Bool `(B, 1, T, T)`: the keys a main-stream row whose every key is masked averages uniformly.

    The reference sums an additive causal mask and an additive padding mask (`finfo.min` each): a
    key masked by one of them scores `finfo.min` (the score is absorbed), by both `-inf`; a row with
    no visible key (a left-padding row) thus weighs its once-masked keys uniformly: `causal != padding`.

    Args:
        query_len: int, `T`.
        decoder_attention_mask: int/bool `(B, T)`, 0 on padding.
    """
    causal = causal_mask(query_len, query_len)  # (1, 1, T, T)
    return ops.not_equal(causal, padding_mask(decoder_attention_mask))  # (B, 1, T, T)


@keras.saving.register_keras_serializable(package="tfmodels")
class NgramSelfAttention(MultiHeadAttention):
    """ProphetNet's main + predict stream self-attention (see the module docstring).

    Args:
        num_heads, key_dim, dropout, use_bias, kernel_initializer, ...: as `MultiHeadAttention`.
        ngram: int, predict streams `G`.
        num_buckets: int, relative-position buckets `K`.
        relative_max_distance: int, the distance where the last bucket starts.

    Call args:
        query: float tensor `(B, (1 + G) * T, D)`: the main stream then the predict streams.
        attention_mask: bool main-stream mask `(B | 1, 1, T, S)` (`ngram_stream_masks`).
        main_fallback_mask: optional bool `(B, 1, T, S)` (`once_masked_keys`): a main-stream row with
            no visible key weighs these keys uniformly, as the reference's summed additive masks.
        predict_attention_mask: bool `(B | 1, G, T, S + T)`.
        main_relative_buckets: int `(T, S)`; predict_relative_buckets: int `(T, S + T)`
            (`ngram_relative_buckets`).
        cache: optional `(B, 2, N, L, H)` main-stream keys/values; the pass's `T` are
            written from `cache_update_index` and every stream reads the main keys of the
            `L` slots (the masks say which).
        return_attention_scores: bool, also return the probabilities.
        training: bool, enables dropout.

    Returns:
        `(B, (1 + G) * T, D)`; with `return_attention_scores` also the pair
        `(main (B, N, T, S), predict (B, G, N, T, S + T))` probabilities; with
        `cache` also the updated cache.

    Raises:
        ValueError: `query`'s length is not a multiple of `1 + ngram`.
    """

    def __init__(self, num_heads, key_dim, ngram=2, num_buckets=32, relative_max_distance=128, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        self.ngram = ngram
        self.num_buckets = num_buckets
        self.relative_max_distance = relative_max_distance

    def build(self, query_shape):  # self-attention only: no value/key inputs
        super().build(query_shape)
        self.relative_pos_embeddings = keras.layers.Dense(
            self.num_buckets * self.num_heads, kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer), dtype=self.dtype_policy,
            name="relative_pos_embeddings")
        self.relative_pos_embeddings.build(query_shape)

    def _relative_bias(self, hidden, buckets):
        """Bias `(B, N, T, S)` of main-stream states `(B, T, D)`, or `(B, G, N, T, S)` of predict-stream
        states `(B, G, T, D)`, for `buckets` `(T, S)`.

        Predict streams: the reference lays the per-bucket values out as `(B, T, G, N, K)` and reads that
        memory as `(B, G, N, T, K)` before indexing it; with `T > 1` a query then reads the values of
        another position/stream/head. Its outputs are what this layer reproduces (one query per stream,
        as in cached decoding, reads its own).
        """
        table = self.relative_pos_embeddings(hidden)  # (B, [G,] T, K * N)
        shape = ops.shape(table)
        table = ops.reshape(table, (*shape[:-1], self.num_buckets, self.num_heads))  # (B, [G,] T, K, N)
        if len(table.shape) == 4:  # main stream
            table = ops.transpose(table, (0, 3, 1, 2))  # (B, N, T, K)
        else:
            batch, ngram, length = shape[0], shape[1], shape[2]
            table = ops.transpose(table, (0, 2, 1, 4, 3))  # (B, T, G, N, K)
            table = ops.reshape(table, (batch, ngram, self.num_heads, length, self.num_buckets))  # as the reference
        index = ops.broadcast_to(ops.cast(buckets, "int32"), (*ops.shape(table)[:-1], ops.shape(buckets)[-1]))
        return ops.take_along_axis(table, index, axis=-1)  # (B, [G,] N, T, S)

    def call(self, query, attention_mask=None, predict_attention_mask=None, main_relative_buckets=None,
             predict_relative_buckets=None, cache=None, cache_update_index=None, return_attention_scores=False,
             training=None, attention_bias=None, main_fallback_mask=None, **kwargs):
        del attention_bias, kwargs  # the relative bias is this layer's own
        total = query.shape[1]
        streams = 1 + self.ngram
        if total is not None and total % streams:
            raise ValueError(f"NgramSelfAttention needs (1 + ngram) streams of equal length. Received: "
                             f"sequence length {total}, ngram={self.ngram}")
        length = ops.shape(query)[1] // streams
        batch = ops.shape(query)[0]

        def split(x):  # (B, (1 + G) T, ...) -> (B, 1 + G, T, ...)
            return ops.reshape(x, (batch, streams, length, *x.shape[2:]))

        hidden = split(query)  # (B, 1 + G, T, D)
        q = split(self.query_dense(query)) * ops.cast(self._scale, query.dtype)  # (B, 1 + G, T, N, H)
        k = split(self.key_dense(query))
        v = split(self.value_dense(query))
        main_k, main_v = k[:, 0], v[:, 0]  # (B, T, N, H)
        if cache is not None:
            slots = cache.shape[3]
            for name, value in (("attention_mask", attention_mask), ("main_relative_buckets", main_relative_buckets)):
                if value is not None and None not in (slots, value.shape[-1]) and value.shape[-1] != slots:
                    raise ValueError(
                        f"NgramSelfAttention with a cache of {slots} slots needs a main-stream {name} over "
                        f"{slots} keys: build it with ngram_stream_masks / ngram_relative_buckets(..., "
                        f"cache_length={slots}, cache_update_index=...). Received: {name} of shape "
                        f"{tuple(value.shape)}")
            main_k, main_v, cache = write_kv_cache(cache, cache_update_index, main_k, main_v)  # (B, N, L, H)
            main_k, main_v = (ops.cast(ops.transpose(t, (0, 2, 1, 3)), q.dtype)  # (B, L, N, H)
                              for t in (main_k, main_v))

        # Main stream: causal self-attention (over the cache when decoding).
        scores = ops.einsum("btnh,bsnh->bnts", q[:, 0], main_k)  # (B, N, T, S)
        scores = scores + self._relative_bias(hidden[:, 0], main_relative_buckets)
        main_probs = masked_softmax(scores, attention_mask)
        if main_fallback_mask is not None and attention_mask is not None:
            fallback = ops.cast(main_fallback_mask, main_probs.dtype)
            uniform = fallback / ops.maximum(ops.sum(fallback, axis=-1, keepdims=True), 1.0)
            main_probs = ops.where(ops.any(attention_mask, axis=-1, keepdims=True), main_probs, uniform)
        main_context = ops.einsum("bnts,bsnh->btnh", self.dropout_layer(main_probs, training=training), main_v)

        # Predict streams: keys/values [main ; own stream].
        num_main = ops.shape(main_k)[1]
        tiled = (batch, self.ngram, num_main, self.num_heads)
        predict_k = ops.concatenate([ops.broadcast_to(main_k[:, None], (*tiled, self.key_dim)), k[:, 1:]], axis=2)
        predict_v = ops.concatenate([ops.broadcast_to(main_v[:, None], (*tiled, self.value_dim)), v[:, 1:]], axis=2)
        scores = ops.einsum("bgtnh,bgsnh->bgnts", q[:, 1:], predict_k)  # (B, G, N, T, S + T)
        scores = scores + self._relative_bias(hidden[:, 1:], predict_relative_buckets)
        predict_mask = None if predict_attention_mask is None else predict_attention_mask[:, :, None]
        predict_probs = masked_softmax(scores, predict_mask)
        predict_context = ops.einsum("bgnts,bgsnh->bgtnh", self.dropout_layer(predict_probs, training=training),
                                     predict_v)  # (B, G, T, N, H)

        context = ops.concatenate([main_context[:, None], predict_context], axis=1)  # (B, 1 + G, T, N, H)
        context = ops.reshape(context, (batch, streams * length, self.num_heads, self.value_dim))
        output = self.output_dense(context)  # (B, (1 + G) T, D)
        extras = ()
        if return_attention_scores:
            extras += ((main_probs, predict_probs),)
        if cache is not None:
            extras += (cache,)
        return (output,) + extras if extras else output

    def get_config(self):
        return {**super().get_config(), "ngram": self.ngram, "num_buckets": self.num_buckets,
                "relative_max_distance": self.relative_max_distance}

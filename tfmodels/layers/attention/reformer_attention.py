"""Reformer attention: chunked local self-attention and LSH (locality-sensitive hashing) self-attention.

Size glossary (as in `multi_head_attention`, plus):
    S: sequence length (queries = keys), a multiple of `chunk_length` when S > L
    L: `chunk_length`
    K: number of hashing rounds (`num_hashes`)
    C: number of chunks (`S / L` local, `K * S / L` LSH)
    A: keys per chunk, `L * (1 + num_chunks_before + num_chunks_after)`

Both layers split the (for LSH: bucket-sorted) sequence into chunks of `L`
and let every chunk attend to itself and to `num_chunks_before` /
`num_chunks_after` neighbouring chunks (wrapping around, as the reference),
so memory grows as `S * A`, never `S * S`. A sequence no longer than `L` is
one chunk: plain (full) self-attention, exactly as the reference switches.

Masking follows the reference: keys masked by `attention_mask` (and, with
`is_decoder`, later positions) get the score `-1e9`; in LSH attention a
query never attends to its own position unless nothing else is left (score
`-1e5`, the shared-QK rule of the paper). The softmax is
`exp(scores - logsumexp(scores))` in float32, also under mixed precision
(so the float32 mask values apply there too; the reference's float16 path
uses `-1e4` / `-1e3`).

References:
    Kitaev, Kaiser, Levskaya, "Reformer: The Efficient Transformer", 2020.
    Andoni et al., "Practical and Optimal LSH for Angular Distance", 2015 (random rotations).
    Parity reference: `transformers.models.reformer.modeling_reformer.LocalSelfAttention`
    and `LSHSelfAttention` (PyTorch).
"""

import math

import keras
import tensorflow as tf
from keras import ops

from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention

MASK_VALUE = -1e9  # masked keys (padding, future positions)
SELF_MASK_VALUE = -1e5  # LSH: a query's own position


def look_adjacent(x, num_chunks_before, num_chunks_after):
    """Each chunk with its neighbours: `(B, N, C, L, ...)` -> `(B, N, C, L * (1 + before + after), ...)`.

    Chunk `c` is followed by chunks `c - before, ..., c + after` (indices modulo `C`), in that order.
    """
    if num_chunks_before == 0 and num_chunks_after == 0:
        return x
    parts = [x if i == 0 else tf.roll(x, shift=-i, axis=2) for i in range(-num_chunks_before, num_chunks_after + 1)]
    return ops.concatenate(parts, axis=3)


def split_chunks(x, chunk_length):
    """`(B, N, S, ...)` -> `(B, N, S / L, L, ...)` (`S` static, or dynamic and then a multiple of `L`)."""
    shape = list(x.shape)
    if shape[2] is not None:
        return ops.reshape(x, (-1 if shape[0] is None else shape[0], shape[1], shape[2] // chunk_length,
                               chunk_length, *shape[3:]))
    dynamic = tf.shape(x)
    batch, heads = (dynamic[i] if shape[i] is None else shape[i] for i in (0, 1))
    return tf.reshape(x, [batch, heads, -1, chunk_length, *shape[3:]])


def _one_or_chunks(name, query, chunk_length, attend, return_attention_scores):
    """`attend(seq_len, chunked) -> (context, probabilities)` at the query's sequence length.

    A static length decides once (`chunked`: longer than one chunk); a
    dynamic one (a SavedModel signature with a `None` length) runs both forms
    under a `tf.cond` on the length and returns no probabilities.
    """
    seq_len = query.shape[1]
    if seq_len is not None:
        return attend(seq_len, seq_len > chunk_length)
    if return_attention_scores:
        raise ValueError(f"{name} returns attention scores only for a static sequence length (their shape depends "
                         "on it). Received: a dynamic sequence length with return_attention_scores=True.")
    length = tf.shape(query)[1]
    context = tf.cond(length <= chunk_length, lambda: attend(length, False)[0], lambda: attend(length, True)[0])
    return context, None


def _heads_first(x):
    return ops.transpose(x, (0, 2, 1, 3))  # (B, S, N, H) -> (B, N, S, H)


def _softmax_logsumexp(scores):
    """`(probabilities, logsumexp)` of float32 `scores` over the last axis, the reference's formula."""
    logits = tf.reduce_logsumexp(scores, axis=-1, keepdims=True)
    return ops.exp(scores - logits), logits


def _check_chunking(name, chunk_length, num_chunks_before, num_chunks_after):
    if not isinstance(chunk_length, int) or chunk_length <= 0:
        raise ValueError(f"{name} needs a positive int chunk_length. Received: chunk_length={chunk_length!r}")
    if num_chunks_before < 0 or num_chunks_after < 0:
        raise ValueError(f"{name} needs num_chunks_before, num_chunks_after >= 0. Received: "
                         f"{num_chunks_before}, {num_chunks_after}")


class _ChunkedSelfAttention(MultiHeadAttention):
    """Shared plumbing: bias-free projections, chunk checks, key mask and output projection."""

    def __init__(self, num_heads, key_dim, chunk_length=64, num_chunks_before=1, num_chunks_after=0,
                 is_decoder=False, **kwargs):
        kwargs.setdefault("use_bias", False)
        super().__init__(num_heads, key_dim, **kwargs)
        _check_chunking(type(self).__name__, chunk_length, num_chunks_before, num_chunks_after)
        self.chunk_length = chunk_length
        self.num_chunks_before = num_chunks_before
        self.num_chunks_after = num_chunks_after
        self.is_decoder = is_decoder

    def build(self, query_shape):  # self-attention only: no `value` / `key` inputs
        super().build(query_shape)

    def compute_output_shape(self, query_shape):
        return (*query_shape[:-1], self.output_dim or query_shape[-1])

    def _check_length(self, seq_len):
        if seq_len is not None and seq_len > self.chunk_length and seq_len % self.chunk_length:
            raise ValueError(
                f"{type(self).__name__} needs a sequence length <= chunk_length or a multiple of it. Received: "
                f"seq_len={seq_len}, chunk_length={self.chunk_length}. Pad the sequence (ReformerModel does)."
            )

    def _masked(self, scores, query_positions, key_positions, key_mask):
        """Scores with masked keys at `MASK_VALUE`: `key_mask` and, as a decoder, later key positions.

        `query_positions (..., T)`, `key_positions (..., S)`, `key_mask` broadcastable to `(..., 1, S)`.
        """
        mask = None if key_mask is None else key_mask
        if self.is_decoder:
            causal = query_positions[..., :, None] >= key_positions[..., None, :]
            mask = causal if mask is None else ops.logical_and(causal, mask)
        if mask is None:
            return scores
        return ops.where(mask, scores, ops.cast(MASK_VALUE, scores.dtype))

    def _output(self, context):
        """`(B, N, S, H)` -> the output projection `(B, S, D)`."""
        return self.output_dense(ops.transpose(context, (0, 2, 1, 3)))

    def get_config(self):
        return {**super().get_config(), "chunk_length": self.chunk_length,
                "num_chunks_before": self.num_chunks_before, "num_chunks_after": self.num_chunks_after,
                "is_decoder": self.is_decoder}


@keras.saving.register_keras_serializable(package="tfmodels")
class LocalSelfAttention(_ChunkedSelfAttention):
    """Chunked local self-attention: each chunk of `chunk_length` attends to itself and its neighbours.

    Args:
        num_heads: int, heads `N`.
        key_dim: int, features per head `H` (`attention_head_size`).
        chunk_length: int, `L` (`local_attn_chunk_length`).
        num_chunks_before, num_chunks_after: ints, neighbouring chunks every
            chunk attends to (`local_num_chunks_before` / `_after`).
        is_decoder: bool, causal masking (a key after the query is masked).
        dropout: float, dropout on the probabilities.
        **kwargs: `MultiHeadAttention` arguments (`kernel_initializer`, `output_dim`, ...);
            projections have no bias by default.

    Call args:
        query: float tensor `(B, S, D)`; `S <= L` or a multiple of `L`. A
            dynamic `S` is decided at run time (`tf.cond`), without scores.
        attention_mask: optional bool/0-1 tensor `(B, S)`, True = a real token.
        return_attention_scores: bool, also return the probabilities.
        training: bool, enables dropout.

    Returns:
        `(B, S, output_dim)`; with `return_attention_scores`, also the
        probabilities `(B, N, S / L, L, A)` (`(B, N, S, S)` when `S <= L`).

    Raises:
        ValueError: a non-positive `chunk_length`, negative neighbour counts,
            `L < S` not dividing `S`, or `return_attention_scores` with a dynamic `S`.
    """

    def call(self, query, attention_mask=None, return_attention_scores=False, training=None, **kwargs):
        self._check_length(query.shape[1])
        q = _heads_first(self.query_dense(query))  # (B, N, S, H)
        k = _heads_first(self.key_dense(query))
        v = _heads_first(self.value_dense(query))
        k = k / ops.cast(math.sqrt(self.key_dim), k.dtype)
        key_mask = None if attention_mask is None else ops.cast(attention_mask, "bool")

        def attend(seq_len, chunked):
            return self._attend(q, k, v, key_mask, seq_len, chunked, training)
        context, probs = _one_or_chunks(self.name, query, self.chunk_length, attend, return_attention_scores)
        output = self._output(context)
        return (output, probs) if return_attention_scores else output

    def _attend(self, q, k, v, key_mask, seq_len, chunked, training):
        """`(context (B, N, S, H), probabilities)`: one chunk of plain attention, or chunks and neighbours."""
        positions = tf.range(seq_len, dtype="int32")
        if not chunked:  # one chunk: plain self-attention
            query_positions = key_positions = positions
            if key_mask is not None:
                key_mask = key_mask[:, None, None, :]  # (B, 1, 1, S)
        else:
            q, k, v = (split_chunks(t, self.chunk_length) for t in (q, k, v))  # (B, N, C, L, H)
            k = look_adjacent(k, self.num_chunks_before, self.num_chunks_after)  # (B, N, C, A, H)
            v = look_adjacent(v, self.num_chunks_before, self.num_chunks_after)
            query_positions = ops.reshape(positions, (1, 1, -1, self.chunk_length))  # (1, 1, C, L)
            key_positions = look_adjacent(query_positions, self.num_chunks_before, self.num_chunks_after)
            if key_mask is not None:
                chunks = split_chunks(key_mask[:, None, :], self.chunk_length)  # (B, 1, C, L)
                key_mask = look_adjacent(chunks, self.num_chunks_before, self.num_chunks_after)[..., None, :]
        scores = ops.cast(ops.matmul(q, ops.swapaxes(k, -1, -2)), "float32")  # (B, N, [C,] L|S, A|S)
        scores = self._masked(scores, query_positions, key_positions, key_mask)
        probs, _ = _softmax_logsumexp(scores)
        dropped = self.dropout_layer(probs, training=training)
        context = ops.matmul(ops.cast(dropped, v.dtype), v)  # (B, N, [C,] L|S, H)
        return tf.reshape(context, [-1, self.num_heads, seq_len, self.value_dim]), probs


@keras.saving.register_keras_serializable(package="tfmodels")
class LSHSelfAttention(_ChunkedSelfAttention):
    """LSH self-attention: shared query-key vectors hashed into buckets, attention within sorted chunks.

    Hashing (angular LSH with random rotations): for each of `num_hashes`
    rounds, the query-key vector `x` is rotated by a random matrix `R`
    `(H, num_buckets / 2)` and its bucket is `argmax([xR, -xR])`; with a
    factorised `num_buckets = [b1, b2, ...]` each factor hashes its own
    slice of the rotation and the buckets combine as `h1 + b1 * h2 + ...`.
    When the batch holds padding, padding tokens get one extra bucket of
    their own (the reference's rule). Positions are sorted by (round,
    bucket, position), split into chunks of `chunk_length`, and each chunk
    attends to itself and its neighbours; keys are the length-normalised
    query-key vectors divided by `sqrt(H)`. The rounds are combined with
    weights `softmax` over their log-normalisers.

    The random rotations `(num_heads, H, num_hashes, rotation_size / 2)`
    (`rotation_size`: `num_buckets`, or the sum of its factors) are, in
    order of precedence: the `random_rotations` call argument (e.g. the
    tensor the PyTorch reference draws with `torch.manual_seed(hash_seed);
    torch.randn(shape)`, which is how the parity tests reproduce it; see
    `rotations_shape`); a deterministic stateless draw from `hash_seed`
    when it is set (deterministic, but not torch's numbers); a fresh draw
    on every call otherwise, as the reference.

    Args:
        num_heads: int, heads `N`.
        key_dim: int, features per head `H` (`attention_head_size`).
        chunk_length: int, `L` (`lsh_attn_chunk_length`).
        num_chunks_before, num_chunks_after: ints (`lsh_num_chunks_before` / `_after`).
        num_hashes: int, hashing rounds `K`.
        num_buckets: even int, list of even ints (factorised), or `None`:
            then chosen per call from the (static) sequence length with the
            reference's rule (`2 * S / L` rounded to a power of two, factorised
            above a limit). The reference fixes the value it chose on its
            first call instead; set it explicitly for reproducible models.
        hash_seed: optional int (see above).
        is_decoder: bool, causal masking.
        max_position_embeddings: int, only used to choose `num_buckets` when it is `None`.
        dropout: float, dropout on the probabilities.
        **kwargs: `MultiHeadAttention` arguments; projections have no bias by default.

    Call args:
        query: float tensor `(B, S, D)`; `S <= L` or a multiple of `L`. A
            dynamic `S` is decided at run time (`tf.cond`), without scores.
        attention_mask: optional bool/0-1 tensor `(B, S)`, True = a real token.
        random_rotations: optional float tensor of `rotations_shape(S)`.
        return_attention_scores: bool, also return the probabilities.
        training: bool, enables dropout.

    Returns:
        `(B, S, output_dim)`; with `return_attention_scores`, also the
        probabilities `(B, N, K * S / L, L, A)` in sorted (bucket) order, or
        `(B, N, S, S)` when `S <= L` (no hashing: full attention).

    Raises:
        ValueError: an odd bucket count, bad chunking arguments, `L < S` not
            dividing `S`, `random_rotations` of the wrong shape, or a dynamic
            `S` with `num_buckets=None` or `return_attention_scores`.
    """

    def __init__(self, num_heads, key_dim, chunk_length=64, num_chunks_before=1, num_chunks_after=0,
                 num_hashes=1, num_buckets=None, hash_seed=None, is_decoder=False, max_position_embeddings=4096,
                 **kwargs):
        super().__init__(num_heads, key_dim, chunk_length=chunk_length, num_chunks_before=num_chunks_before,
                         num_chunks_after=num_chunks_after, is_decoder=is_decoder, **kwargs)
        factors = [num_buckets] if isinstance(num_buckets, int) else list(num_buckets or [])
        if any(not isinstance(f, int) or f <= 0 or f % 2 for f in factors):
            raise ValueError(f"num_buckets must be a positive even int or a list of them. "
                             f"Received: num_buckets={num_buckets!r}")
        if num_hashes < 1:
            raise ValueError(f"num_hashes must be >= 1. Received: num_hashes={num_hashes}")
        self.num_hashes = num_hashes
        self.num_buckets = list(num_buckets) if isinstance(num_buckets, (list, tuple)) else num_buckets
        self.hash_seed = hash_seed
        self.max_position_embeddings = max_position_embeddings
        self.seed_generator = keras.random.SeedGenerator(hash_seed)

    def build(self, query_shape):
        n, h = self.num_heads, self.key_dim
        self.query_dense = self._dense("btd,dnh->btnh", (None, n, h), "nh", "query_key")  # shared Q = K
        self.query_dense.build(query_shape)
        self.value_dense = self._dense("bsd,dnh->bsnh", (None, n, h), "nh", "value")
        self.value_dense.build(query_shape)
        self.output_dense = self._dense("btnh,nhd->btd", (None, self.output_dim or query_shape[-1]), "d",
                                        "attention_output", use_bias=self.output_use_bias)
        self.output_dense.build((None, None, n, h))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.built = True

    def buckets_for(self, seq_len):
        """The bucket count (int or factor list) used for a sequence of `seq_len`."""
        if self.num_buckets is not None:
            return self.num_buckets
        if not isinstance(seq_len, int):
            raise ValueError(f"{self.name} chooses num_buckets from the sequence length, which is dynamic here. "
                             "Set num_buckets (the config field) to run or export with a dynamic length. "
                             "Received: num_buckets=None.")
        power = (2 * (seq_len // self.chunk_length)).bit_length() - 1
        limit = 2 * max(int((self.max_position_embeddings // self.chunk_length) ** 0.5), self.chunk_length)
        if 2 ** power > limit:
            return [2 ** (power // 2), 2 ** (power - power // 2)]
        return 2 ** power

    def rotations_shape(self, seq_len):
        """`(num_heads, key_dim, num_hashes, rotation_size // 2)` for a sequence of `seq_len`."""
        buckets = self.buckets_for(seq_len)
        rotation_size = buckets if isinstance(buckets, int) else sum(buckets)
        return (self.num_heads, self.key_dim, self.num_hashes, rotation_size // 2)

    def _rotations(self, seq_len, random_rotations):
        shape = self.rotations_shape(seq_len)
        if random_rotations is not None:
            if tuple(random_rotations.shape) != shape:
                raise ValueError(f"{self.name} needs random_rotations of shape {shape} "
                                 f"(num_heads, key_dim, num_hashes, rotation_size // 2). "
                                 f"Received: {tuple(random_rotations.shape)}")
            return ops.cast(random_rotations, "float32")
        if self.hash_seed is not None:
            return tf.random.stateless_normal(shape, seed=[int(self.hash_seed), 0], alg="philox")
        return keras.random.normal(shape, seed=self.seed_generator)

    def hash_vectors(self, vectors, key_mask, random_rotations=None):
        """Buckets of `vectors (B, N, S, H)`: int32 `(B, N, K * S)`, rounds offset so they never collide."""
        seq_len = vectors.shape[2]
        if seq_len is None:
            seq_len = tf.shape(vectors)[2]
        buckets_spec = self.buckets_for(seq_len)
        rotations = self._rotations(seq_len, random_rotations)
        rotated = ops.einsum("bnsh,nhkr->bnksr", ops.cast(vectors, "float32"), rotations)  # (B, N, K, S, R/2)
        factors = [buckets_spec] if isinstance(buckets_spec, int) else buckets_spec
        buckets, start, product = None, 0, 1
        for factor in factors:
            part = rotated if len(factors) == 1 else rotated[..., start: start + factor // 2]
            start += factor // 2
            index = ops.cast(ops.argmax(ops.concatenate([part, -part], axis=-1), axis=-1), "int32")
            buckets = index if buckets is None else buckets + product * index
            product *= factor
        num_buckets = ops.convert_to_tensor(product, "int32")
        if key_mask is not None:  # padding in the batch: one more bucket, for padding tokens only
            has_padding = ops.logical_not(ops.all(key_mask))
            num_buckets = num_buckets + ops.cast(has_padding, "int32")
            buckets = ops.where(key_mask[:, None, None, :], buckets, num_buckets - 1)
        offsets = ops.arange(self.num_hashes, dtype="int32")[None, None, :, None] * num_buckets
        return tf.reshape(buckets + offsets, [-1, self.num_heads, self.num_hashes * seq_len])

    def call(self, query, attention_mask=None, random_rotations=None, return_attention_scores=False,
             training=None, **kwargs):
        self._check_length(query.shape[1])
        qk = _heads_first(self.query_dense(query))  # (B, N, S, H)
        v = _heads_first(self.value_dense(query))
        key_mask = None if attention_mask is None else ops.cast(attention_mask, "bool")

        def attend(seq_len, chunked):
            if not chunked:  # one chunk: full attention, no hashing
                positions = tf.range(seq_len, dtype="int32")
                probs, context, _ = self._attend(qk, v, positions, positions,
                                                 None if key_mask is None else key_mask[:, None, None, :], training)
                return context, probs
            return self._hashed(qk, v, key_mask, seq_len, random_rotations, training)
        context, probs = _one_or_chunks(self.name, query, self.chunk_length, attend, return_attention_scores)
        output = self._output(context)
        return (output, probs) if return_attention_scores else output

    def _hashed(self, qk, v, key_mask, seq_len, random_rotations, training):
        """`(context (B, N, S, H), probabilities)` of attention within sorted bucket chunks."""
        buckets = self.hash_vectors(qk, key_mask, random_rotations)  # (B, N, K * S)
        sorted_index = tf.argsort(buckets, axis=-1, stable=True)  # by (round, bucket, position)
        undo_sort = tf.argsort(sorted_index, axis=-1, stable=True)
        sorted_positions = sorted_index % seq_len  # (B, N, K * S)
        qk = split_chunks(tf.gather(qk, sorted_positions, axis=2, batch_dims=2), self.chunk_length)  # (B, N, C, L, H)
        v = split_chunks(tf.gather(v, sorted_positions, axis=2, batch_dims=2), self.chunk_length)
        query_positions = split_chunks(sorted_positions, self.chunk_length)  # (B, N, C, L)
        key_positions = look_adjacent(query_positions, self.num_chunks_before, self.num_chunks_after)  # (B, N, C, A)
        chunk_mask = None
        if key_mask is not None:
            batch = ops.shape(key_positions)[0]
            flat = ops.reshape(key_positions, (batch, -1))
            chunk_mask = ops.reshape(tf.gather(key_mask, flat, batch_dims=1), ops.shape(key_positions))[..., None, :]
        probs, context, logits = self._attend(qk, v, query_positions, key_positions, chunk_mask, training,
                                              adjacent=True)
        context = tf.reshape(context, [-1, self.num_heads, self.num_hashes * seq_len, self.value_dim])
        logits = tf.reshape(logits, [-1, self.num_heads, self.num_hashes * seq_len])
        context = tf.gather(context, undo_sort, axis=2, batch_dims=2)  # back to position order
        logits = tf.gather(logits, undo_sort, axis=2, batch_dims=2)
        if self.num_hashes > 1:  # combine the rounds, weighted by their normalisers
            context = tf.reshape(context, [-1, self.num_heads, self.num_hashes, seq_len, self.value_dim])
            logits = tf.reshape(logits, [-1, self.num_heads, self.num_hashes, seq_len, 1])
            weights = ops.exp(logits - tf.reduce_logsumexp(logits, axis=2, keepdims=True))
            context = ops.sum(context * ops.cast(weights, context.dtype), axis=2)
        return context, probs

    def _attend(self, qk, v, query_positions, key_positions, key_mask, training, adjacent=False):
        """Shared-QK attention: `(probabilities, context, logsumexp)` over the given key positions."""
        keys = qk * ops.rsqrt(ops.mean(ops.square(qk), axis=-1, keepdims=True) + 1e-6)  # length normalisation
        keys = keys / ops.cast(math.sqrt(self.key_dim), keys.dtype)
        if adjacent:
            keys = look_adjacent(keys, self.num_chunks_before, self.num_chunks_after)
            v = look_adjacent(v, self.num_chunks_before, self.num_chunks_after)
        scores = ops.cast(ops.matmul(qk, ops.swapaxes(keys, -1, -2)), "float32")
        scores = self._masked(scores, query_positions, key_positions, key_mask)
        own = ops.equal(query_positions[..., :, None], key_positions[..., None, :])
        scores = ops.where(own, ops.cast(SELF_MASK_VALUE, scores.dtype), scores)
        probs, logits = _softmax_logsumexp(scores)
        dropped = self.dropout_layer(probs, training=training)
        context = ops.matmul(ops.cast(dropped, v.dtype), v)
        return probs, context, logits

    def get_config(self):
        return {**super().get_config(), "num_hashes": self.num_hashes, "num_buckets": self.num_buckets,
                "hash_seed": self.hash_seed, "max_position_embeddings": self.max_position_embeddings}

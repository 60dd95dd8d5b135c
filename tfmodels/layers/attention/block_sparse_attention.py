"""BigBird block-sparse attention (global + sliding + random blocks).

Size glossary (as `MultiHeadAttention`, plus):
    K: block size (`block_size`)
    M: number of blocks, `T // K`
    L: query blocks with random attention, `M - 2`
    R: random key blocks per query block (`num_random_blocks`)

Each query block attends, per head:

- block 0 and block `M - 1` (global), and they attend every key;
- its own block and one block on each side (sliding window of 3 blocks);
- `R` random key blocks, a static plan from
  `tfmodels.layers.attention.block_sparse_plan.random_block_plan`.

The second and second-to-last query blocks see the first/last 3 blocks, the
other global block and their random blocks, as in the reference. Scores are
computed per block group, so memory is linear in `T`:
`O(B N T (5 + R) K)`. Masked scores are lowered by 10000 (the reference's
additive `-10000 * (1 - mask)`); outputs of padded queries are zeroed.
"""

import keras
import numpy as np
from keras import ops

from tfmodels.layers.attention.block_sparse_plan import random_block_plan
from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.masks import attention_mask_to_bool, masked_softmax
from tfmodels.layers.transformer_block import TransformerEncoderBlock

MASK_PENALTY = 10000.0  # the reference's `attn_mask_penalty`


def min_block_sparse_length(block_size, num_random_blocks):
    """Longest sequence the reference runs with full attention instead: `(5 + 2 R) K`."""
    return (5 + 2 * num_random_blocks) * block_size


@keras.saving.register_keras_serializable(package="tfmodels")
class BlockSparseAttention(MultiHeadAttention):
    """BigBird's block-sparse self-attention; full attention with `block_sparse=False`.

    Both modes use the same `MultiHeadAttention` projections (`query_dense`,
    `key_dense`, `value_dense`, `output_dense`, and its
    `_transform_query_key` / `_transform_value` override points), so one set
    of weights serves long inputs (block-sparse) and short ones (the
    reference's fallback to `original_full`).

    Random blocks: with `training=False` every random block is block 0 (the
    reference's inference behaviour, no randomness); with `training=True`
    the plan is drawn by `random_block_plan` from `seed`, identical to the
    reference's NumPy stream and fixed per layer (see that module).

    Args:
        num_heads: see `MultiHeadAttention`.
        key_dim: see `MultiHeadAttention`.
        block_size: int, tokens per block `K`.
        num_random_blocks: int, random key blocks per query block `R`.
        seed: int, seed of the training-mode random plan (the reference: the
            layer index).
        max_seq_len: int or None, `max_position_embeddings` (only the
            reference's legacy plan at lengths 1024/3072/4096 reads it).
        **kwargs: `MultiHeadAttention` arguments (`dropout` applies to full
            attention only: the reference has no dropout in its block-sparse path).

    Call args:
        query: float tensor `(B, T, D)`; self-attention only.
        attention_mask: optional padding mask `(B, T)` (bool or 0/1) or
            `(B | 1, 1, 1, T)` bool; `None` attends everywhere.
        block_sparse: bool, `False` runs `MultiHeadAttention.call` (full
            attention; then every `MultiHeadAttention` argument applies).
        return_attention_scores: bool, also return the probabilities as a
            dense `(B, N, T, T)` tensor holding the weights of the attended
            blocks and zeros elsewhere (the reference's `output_attentions`;
            this output is quadratic in `T`). As there, a key block attended
            twice holds one weight: in inference the random slots all hit
            block 0, so rows of query blocks 1 .. M-2 sum to less than one.
        training: bool; selects the random plan (see above).

    Returns:
        `(B, T, output_dim)`, and the probabilities when asked.

    Raises:
        ValueError: in block-sparse mode, for a `T` unknown when traced, not a
            multiple of `block_size`, or not longer than
            `(5 + 2 * num_random_blocks) * block_size`; for a mask that is not
            a padding mask; for `value`, `key` or `cache` arguments.

    References:
        Zaheer et al., "Big Bird: Transformers for Longer Sequences", NeurIPS 2020.
        Parity reference: `transformers.models.big_bird.modeling_big_bird.BigBirdBlockSparseAttention`
        (`bigbird_block_sparse_attention`).
    """

    def __init__(self, num_heads, key_dim, block_size=64, num_random_blocks=3, seed=0, max_seq_len=None, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        if block_size <= 0 or num_random_blocks < 0:
            raise ValueError("block_size must be positive and num_random_blocks non-negative. "
                             f"Received: block_size={block_size}, num_random_blocks={num_random_blocks}")
        self.block_size = block_size
        self.num_random_blocks = num_random_blocks
        self.seed = seed
        self.max_seq_len = max_seq_len

    def random_plan(self, seq_len, training=False):
        """The `(N, M - 2, R)` random key-block indices used at this length."""
        return random_block_plan(seq_len, self.block_size, self.num_random_blocks, self.num_heads, seed=self.seed,
                                 training=bool(training), max_seq_len=self.max_seq_len)

    def call(self, query, value=None, key=None, attention_mask=None, attention_bias=None, cache=None,
             cache_update_index=None, projected_key_value=None, block_sparse=True, return_attention_scores=False,
             training=None, **kwargs):
        if not block_sparse:
            return super().call(query, value=value, key=key, attention_mask=attention_mask,
                                attention_bias=attention_bias, cache=cache, cache_update_index=cache_update_index,
                                projected_key_value=projected_key_value,
                                return_attention_scores=return_attention_scores, training=training, **kwargs)
        for name, given in (("cache", cache), ("projected_key_value", projected_key_value),
                            ("attention_bias", attention_bias), ("value", value), ("key", key)):
            if given is not None:
                raise ValueError(f"Block-sparse attention is self-attention without `{name}`; "
                                 "use block_sparse=False (full attention) for it.")
        seq_len = self._check_length(query.shape[1])
        key_mask = self._key_mask(attention_mask, query, seq_len)  # (B, T) bool
        q = self.query_dense(query)  # (B, T, N, H)
        k = self.key_dense(query)
        v = self.value_dense(query)
        q, k = self._transform_query_key(q, k, **kwargs)
        v = ops.cast(self._transform_value(v, **kwargs), q.dtype)
        q, k, v = (ops.transpose(t, (0, 2, 1, 3)) for t in (q, k, v))  # (B, N, T, H)
        context, probs = self._block_sparse(q, k, v, key_mask, self.random_plan(seq_len, training),
                                            return_attention_scores)
        output = self.output_dense(ops.transpose(context, (0, 2, 1, 3)))  # (B, T, output_dim)
        return (output, probs) if return_attention_scores else output

    def _check_length(self, seq_len):
        minimum = min_block_sparse_length(self.block_size, self.num_random_blocks)
        if seq_len is None or seq_len % self.block_size or seq_len <= minimum:
            raise ValueError(
                "Block-sparse attention needs a static sequence length that is a multiple of "
                f"block_size={self.block_size} and longer than (5 + 2 * num_random_blocks) * block_size = {minimum}; "
                f"pad the input (BigBirdModel does) or use block_sparse=False. Received: seq_len={seq_len}"
            )
        return seq_len

    @staticmethod
    def _key_mask(attention_mask, query, seq_len):
        batch = ops.shape(query)[0]
        if attention_mask is None:
            return ops.ones((batch, seq_len), dtype="bool")
        mask = attention_mask_to_bool(attention_mask, query.shape[0], seq_len, seq_len)
        if mask.shape[1] != 1 or mask.shape[2] != 1:
            raise ValueError("Block-sparse attention takes a padding mask (batch, seq_len) only. "
                             f"Received: attention_mask with shape {tuple(attention_mask.shape)}")
        return ops.broadcast_to(mask[:, 0, 0, :], (batch, seq_len))

    def _block_sparse(self, q, k, v, key_mask, plan, return_probs):
        """Context `(B, N, T, H)` (zero for padded queries) and, if asked, probabilities `(B, N, T, T)`."""
        n, size, r = self.num_heads, self.block_size, self.num_random_blocks
        seq_len, head_dim = q.shape[2], q.shape[3]
        blocks = seq_len // size
        batch = ops.shape(q)[0]
        scale = ops.cast(self._scale, q.dtype)
        bq, bk, bv = (ops.reshape(t, (batch, n, blocks, size, t.shape[-1])) for t in (q, k, v))  # (B, N, M, K, H)
        blocked_mask = ops.reshape(key_mask, (batch, blocks, size))  # (B, M, K)

        # Random key blocks: a constant gather, (B, N, L, R * K, H).
        heads = np.arange(n, dtype="int32")[:, None, None]
        flat = ops.convert_to_tensor((heads * blocks + plan).reshape(-1))
        rand_k, rand_v = (
            ops.reshape(ops.take(ops.reshape(t, (batch, n * blocks, size, t.shape[-1])), flat, axis=1),
                        (batch, n, blocks - 2, r * size, t.shape[-1]))
            for t in (bk, bv)
        )
        rand_keys = ops.reshape(ops.take(blocked_mask, ops.convert_to_tensor(plan.reshape(-1)), axis=1),
                                (batch, n, blocks - 2, 1, r * size))
        rand_mask = ops.logical_and(blocked_mask[:, None, 1:-1, :, None], rand_keys)  # (B, N, L, K, R * K)

        def attend(query_block, keys, mask):
            scores = ops.einsum("bnqh,bnkh->bnqk", query_block, keys) * scale  # (B, N, K, keys)
            return masked_softmax(scores, mask, penalty=MASK_PENALTY)

        ones = ops.ones((batch, 1, 1, r * size), dtype="bool")
        full_mask = key_mask[:, None, None, :]  # (B, 1, 1, T)

        # Global query blocks 0 and M - 1: every key.
        first_w = attend(bq[:, :, 0], k, full_mask)  # (B, N, K, T)
        last_w = attend(bq[:, :, -1], k, full_mask)
        first_ctx = ops.einsum("bnqk,bnkh->bnqh", first_w, v)
        last_ctx = ops.einsum("bnqk,bnkh->bnqh", last_w, v)

        # Query block 1: blocks 0, 1, 2, M - 1 and its random blocks.
        def edge(query_block, key_blocks, sliding_mask, rand_index):
            keys = ops.concatenate([bk[:, :, j] for j in key_blocks] + [rand_k[:, :, rand_index]], axis=2)
            values = ops.concatenate([bv[:, :, j] for j in key_blocks] + [rand_v[:, :, rand_index]], axis=2)
            seq_mask = ops.concatenate([sliding_mask, ones], axis=-1)  # (B, 1, 1, (4 + R) K)
            rand_part = ops.concatenate([ops.ones((batch, n, size, 4 * size), dtype="bool"),
                                         rand_mask[:, :, rand_index]], axis=-1)
            weights = attend(query_block, keys, ops.logical_and(seq_mask, rand_part))
            return weights, ops.einsum("bnqk,bnkh->bnqh", weights, values)

        second_w, second_ctx = edge(bq[:, :, 1], (0, 1, 2, -1), ops.concatenate(
            [full_mask[..., : 3 * size], full_mask[..., -size:]], axis=-1), 0)
        second_last_w, second_last_ctx = edge(bq[:, :, -2], (0, -3, -2, -1), ops.concatenate(
            [full_mask[..., :size], full_mask[..., -3 * size:]], axis=-1), -1)

        # Middle query blocks 2 .. M - 3: global, sliding (3 blocks), random.
        sliding_k = ops.concatenate([bk[:, :, 1:-3], bk[:, :, 2:-2], bk[:, :, 3:-1]], axis=3)  # (B, N, M-4, 3K, H)
        sliding_v = ops.concatenate([bv[:, :, 1:-3], bv[:, :, 2:-2], bv[:, :, 3:-1]], axis=3)
        middle_q = bq[:, :, 2:-2]
        sliding_keys = ops.concatenate([blocked_mask[:, 1:-3], blocked_mask[:, 2:-2], blocked_mask[:, 3:-1]], axis=2)
        band_mask = ops.logical_and(blocked_mask[:, 2:-2, :, None], sliding_keys[:, :, None, :])[:, None]
        scores = ops.concatenate([
            ops.einsum("bnmqh,bnkh->bnmqk", middle_q, bk[:, :, 0]),
            ops.einsum("bnmqh,bnmkh->bnmqk", middle_q, sliding_k),
            ops.einsum("bnmqh,bnmkh->bnmqk", middle_q, rand_k[:, :, 1:-1]),
            ops.einsum("bnmqh,bnkh->bnmqk", middle_q, bk[:, :, -1]),
        ], axis=-1) * scale  # (B, N, M-4, K, (5 + R) K)
        middle = blocks - 4
        mask = ops.concatenate([
            ops.broadcast_to(blocked_mask[:, None, None, None, 0], (batch, n, middle, size, size)),
            ops.broadcast_to(band_mask, (batch, n, middle, size, 3 * size)),
            rand_mask[:, :, 1:-1],
            ops.broadcast_to(blocked_mask[:, None, None, None, -1], (batch, n, middle, size, size)),
        ], axis=-1)
        middle_w = masked_softmax(scores, mask, penalty=MASK_PENALTY)
        middle_ctx = ops.einsum("bnmqk,bnmkh->bnmqh", middle_w[..., size: 4 * size], sliding_v)
        middle_ctx += ops.einsum("bnmqk,bnmkh->bnmqh", middle_w[..., 4 * size: -size], rand_v[:, :, 1:-1])
        middle_ctx += ops.einsum("bnmqk,bnkh->bnmqh", middle_w[..., :size], bv[:, :, 0])
        middle_ctx += ops.einsum("bnmqk,bnkh->bnmqh", middle_w[..., -size:], bv[:, :, -1])

        context = ops.concatenate([first_ctx[:, :, None], second_ctx[:, :, None], middle_ctx,
                                   second_last_ctx[:, :, None], last_ctx[:, :, None]], axis=2)
        context = ops.reshape(context, (batch, n, seq_len, head_dim))
        context = ops.where(key_mask[:, None, :, None], context, ops.zeros_like(context))
        if not return_probs:
            return context, None
        probs = self._dense_probabilities(first_w, second_w, middle_w, second_last_w, last_w, plan)
        return context, probs

    def _dense_probabilities(self, first_w, second_w, middle_w, second_last_w, last_w, plan):
        """Scatters the block weights into `(B, N, T, T)`, zeros where no key was attended.

        Rows 1 .. M-2: the window/global weights first, then the random
        blocks' weights overwrite theirs (in inference all random blocks are
        block 0, whose random-slot weight is what the reference stores).
        """
        n, size, r = self.num_heads, self.block_size, self.num_random_blocks
        blocks = plan.shape[1] + 2
        batch = ops.shape(first_w)[0]
        dtype = first_w.dtype
        # Window/global weights of rows 1 .. M-2 as 5 blocks each (rows 1 and M-2 have 4, plus a zero block).
        zero_block = ops.zeros_like(second_w[..., :size])
        window = ops.concatenate([
            ops.concatenate([second_w[..., : 4 * size], zero_block], axis=-1)[:, :, None],
            ops.concatenate([middle_w[..., : 4 * size], middle_w[..., -size:]], axis=-1),
            ops.concatenate([second_last_w[..., : 4 * size], zero_block], axis=-1)[:, :, None],
        ], axis=2)
        window = ops.reshape(window, (batch, n, blocks - 2, size, 5, size))
        targets = np.zeros((blocks - 2, 5, blocks), dtype="float32")  # (L, 5, M): one-hot key block per slot
        for row, keys in enumerate([(0, 1, 2, blocks - 1)] + [(0, m + 1, m + 2, m + 3, blocks - 1)
                                                            for m in range(blocks - 4)] + [(0, blocks - 3,
                                                                                           blocks - 2, blocks - 1)]):
            targets[row, np.arange(len(keys)), keys] = 1.0
        dense = ops.einsum("bnlqjk,ljc->bnlqck", window, ops.cast(targets, dtype))  # (B, N, L, K, M, K)

        rand_w = ops.concatenate([second_w[:, :, None, :, 4 * size:], middle_w[..., 4 * size: -size],
                                  second_last_w[:, :, None, :, 4 * size:]], axis=2)
        rand_w = ops.reshape(rand_w, (batch, n, blocks - 2, size, r, size))
        one_hot = np.eye(blocks, dtype="float32")[plan]  # (N, L, R, M)
        rand_dense = None  # (B, N, L, K, M, K); max, not sum: a block drawn twice holds one weight
        for slot in range(r):
            placed = rand_w[:, :, :, :, slot, None, :] * ops.cast(one_hot[:, :, slot], dtype)[None, :, :, None, :, None]
            rand_dense = placed if rand_dense is None else ops.maximum(rand_dense, placed)
        covered = ops.convert_to_tensor(one_hot.any(axis=2))[None, :, :, None, :, None]  # (1, N, L, 1, M, 1)
        if rand_dense is not None:
            dense = ops.where(covered, rand_dense, dense)
        rows = ops.concatenate([
            ops.reshape(first_w, (batch, n, 1, size, blocks, size)), dense,
            ops.reshape(last_w, (batch, n, 1, size, blocks, size)),
        ], axis=2)
        return ops.reshape(rows, (batch, n, blocks * size, blocks * size))

    def get_config(self):
        return {
            **super().get_config(),
            "block_size": self.block_size,
            "num_random_blocks": self.num_random_blocks,
            "seed": self.seed,
            "max_seq_len": self.max_seq_len,
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class BlockSparseEncoderBlock(TransformerEncoderBlock):
    """A `TransformerEncoderBlock` whose self-attention is `BlockSparseAttention` (BigBird).

    Args: `TransformerEncoderBlock`'s; `attention_kwargs` carries `block_size`,
    `num_random_blocks`, `seed` and `max_seq_len` (see `BlockSparseAttention`).

    Call args: as `TransformerEncoderBlock`; `block_sparse` (bool) reaches the attention.

    References:
        Parity reference: `transformers.models.big_bird.modeling_big_bird.BigBirdLayer`.
    """

    attention_class = BlockSparseAttention

"""Where BigBird's random key blocks go: the static plan of block-sparse attention.

BigBird's random attention lets each query block (except the two global
ones) attend `num_random_blocks` key blocks chosen at random outside its
window and the global blocks. The choice is made on the host, with NumPy,
before the attention runs: a constant `(num_heads, num_blocks - 2,
num_random_blocks)` int32 array of key-block indices, so the attention graph
has static shapes (XLA) and the gathers read constants.

The random stream is the reference's, exactly: `transformers` calls
`np.random.seed(seed)` with the layer index as `seed` at every training
forward pass, then draws `np.random.permutation`s in a fixed order. Here a
`np.random.RandomState(seed)` (the same legacy MT19937 generator, the same
seeding) draws the same permutations in the same order, so the plan for a
given `(seed, seq_len, block_size, num_random_blocks, num_heads)` is the
reference's plan, identical at every step (the reference reseeds every step
too). It is computed when the layer is traced: once per input shape in a
`tf.function`/XLA graph. Differences: none in the indices; the reference
touches NumPy's global RNG state, this module never does.

In inference (`training=False`) the reference uses no randomness: every
random block index is 0 (the first, global block), so each random slot
attends block 0 again. `random_block_plan(..., training=False)` returns
those zeros.

References:
    Zaheer et al., "Big Bird: Transformers for Longer Sequences", NeurIPS 2020.
    Parity reference: `transformers.models.big_bird.modeling_big_bird.BigBirdBlockSparseAttention`
    (`_bigbird_block_rand_mask`, `_bigbird_block_rand_mask_with_head`, `_get_rand_attn_plan`,
    `_get_single_block_row_attention`).
"""

import numpy as np

# Sequence lengths for which the reference uses the plan of the original paper code.
LEGACY_PLAN_LENGTHS = (1024, 3072, 4096)


def random_block_plan(seq_len, block_size, num_random_blocks, num_heads, seed=0, training=False,
                      max_seq_len=None):
    """Key-block indices of the random attention, per head and middle query block.

    Args:
        seq_len: int, sequence length, a multiple of `block_size`.
        block_size: int, tokens per block.
        num_random_blocks: int, random key blocks per query block `R`.
        num_heads: int, attention heads `N`.
        seed: int, the generator seed (the reference: the layer index).
        training: bool; `False` gives the reference's inference plan (all zeros).
        max_seq_len: int, `max_position_embeddings`; used (as in the
            reference) only for the paper's plan at lengths 1024, 3072, 4096.

    Returns:
        int32 array `(N, seq_len // block_size - 2, R)`.
    """
    num_blocks = seq_len // block_size
    rng = np.random.RandomState(seed) if training else None
    if seq_len in LEGACY_PLAN_LENGTHS:
        max_seq_len = max_seq_len or seq_len
        plans = [
            _legacy_plan(max_seq_len, block_size, num_random_blocks, rng, last_idx=1024)[: num_blocks - 2]
            for _ in range(num_heads)
        ]
    else:
        from_lengths, counts = _plan_lengths(seq_len, block_size, num_random_blocks)
        plans = _plan_with_heads(seq_len, block_size, num_heads, from_lengths, counts, rng)
    return np.stack(plans, axis=0).astype("int32")


def _plan_lengths(seq_len, block_size, num_random_blocks):
    """Segments of the sequence and random blocks drawn in each (`_get_rand_attn_plan`)."""
    num_blocks = seq_len // block_size
    if 2 * num_random_blocks + 5 < num_blocks:
        return [(2 * num_random_blocks + 5) * block_size, seq_len], [num_random_blocks, 0]
    if num_random_blocks + 5 < num_blocks:
        half = num_random_blocks // 2
        return [(num_random_blocks + 5) * block_size, seq_len], [half, num_random_blocks - half]
    return [seq_len], [num_random_blocks]


def _legacy_plan(seq_len, block_size, num_random_blocks, rng, last_idx=-1):
    """The paper code's plan (`_bigbird_block_rand_mask`), `(seq_len // block_size - 2, R)`."""
    num_blocks = seq_len // block_size
    plan = np.zeros((num_blocks - 2, num_random_blocks), dtype=np.int32)
    if rng is None:
        return plan
    middle = np.arange(1, num_blocks - 1, dtype=np.int32)
    last = num_blocks - 1
    if last_idx > 2 * block_size:
        last = last_idx // block_size - 1
    r = num_random_blocks
    for i in range(1, num_blocks - 1):
        start, end = i - 2, i
        if i == 1:
            plan[i - 1] = rng.permutation(middle[2:last])[:r]
        elif i == 2:
            plan[i - 1] = rng.permutation(middle[3:last])[:r]
        elif i in (num_blocks - 3, num_blocks - 2):
            plan[i - 1] = rng.permutation(middle[:last])[:r]
        elif start > last:
            plan[i - 1] = rng.permutation(middle[:last])[:r]
        elif end + 1 == last:
            plan[i - 1] = rng.permutation(middle[:start])[:r]
        else:
            plan[i - 1] = rng.permutation(np.concatenate((middle[:start], middle[end + 1:last])))[:r]
    return plan


def _plan_with_heads(seq_len, block_size, num_heads, from_lengths, counts, rng):
    """`_bigbird_block_rand_mask_with_head`: a plan per head, `[(num_blocks - 2, R)] * N`.

    One global block at each end and a window of one block on each side, as
    the reference's defaults.
    """
    num_blocks = seq_len // block_size
    block_lengths = np.array(from_lengths) // block_size
    last_plan = from_lengths.index(seq_len)
    width = int(np.sum(counts[: last_plan + 1]))
    plans = [np.zeros((num_blocks, width), dtype=np.int32) for _ in range(num_heads)]
    if rng is None:
        return [p[1: num_blocks - 1] for p in plans]

    def fill(row, start_count, end_count, to_start, to_end, count):
        for h in range(num_heads):
            plans[h][row, start_count:end_count] = _row_plan(row, to_start, to_end, count, rng)

    for plan_idx in range(last_plan + 1):
        start_count = 0
        if plan_idx > 0:
            if counts[plan_idx] > 0:
                start_count = int(np.sum(counts[:plan_idx]))
                end_count = int(np.sum(counts[: plan_idx + 1]))
                for row in range(1, block_lengths[plan_idx - 1]):
                    fill(row, start_count, end_count, block_lengths[plan_idx - 1], block_lengths[plan_idx],
                         counts[plan_idx])
            for previous in range(plan_idx):
                if counts[previous] == 0:
                    continue
                for row in range(block_lengths[plan_idx - 1], block_lengths[plan_idx]):
                    first_count, to_start = 0, 0
                    if previous > 0:
                        first_count = int(np.sum(counts[:previous]))
                        to_start = block_lengths[previous - 1]
                    end_count = int(np.sum(counts[: previous + 1]))
                    fill(row, first_count, end_count, to_start, block_lengths[previous], counts[previous])
        if counts[plan_idx] == 0:
            continue
        end_count = int(np.sum(counts[: plan_idx + 1]))
        from_start, to_start = 1, 0
        if plan_idx > 0:
            start_count = int(np.sum(counts[:plan_idx]))
            from_start = to_start = block_lengths[plan_idx - 1]
        for row in range(from_start, block_lengths[plan_idx]):
            fill(row, start_count, end_count, to_start, block_lengths[plan_idx], counts[plan_idx])
    return [p[1: num_blocks - 1] for p in plans]


def _row_plan(block_id, to_start, to_end, count, rng):
    """`count` random key blocks for query block `block_id` (`_get_single_block_row_attention`)."""
    permuted = rng.permutation(np.arange(to_start, to_end, dtype=np.int32))
    illegal = list(range(block_id - 1, block_id + 2)) + [0] + [to_end - 1]
    if block_id == 1:
        illegal.append(to_end - 2)  # the second block never picks the second-to-last one
    if block_id == to_end - 2:
        illegal.append(1)  # and vice versa
    selected = []
    for i in range(to_end - to_start):
        if permuted[i] not in illegal:
            selected.append(permuted[i])
        if len(selected) == count:
            break
    return np.array(selected, dtype=np.int32)

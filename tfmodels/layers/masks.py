"""Boolean attention masks: building, combining and the one masked softmax.

Masks are boolean (`True` = attend). They broadcast against attention scores
of shape `(batch, num_heads, query_len, key_len)` and are combined with `&`:

- padding (key) mask `(batch, 1, 1, key_len)`, from a `(batch, key_len)`
  `attention_mask` of 0/1 integers or booleans;
- causal mask `(1, 1, query_len, key_len)`; with a KV cache the queries are the
  last `query_len` positions of the keys, so query `i` sees keys `<= i + offset`;
- any extra mask the caller already has, e.g. `(batch, query_len, key_len)`.

`masked_softmax` (through `mask_scores`) is the only place where masked
scores become a large negative number, in float32 so mixed precision never
overflows. Two modes:

- exclusion (default): masked scores are replaced by the float32 minimum, so
  masked keys get exactly zero weight;
- additive penalty (`penalty=p`): masked scores become `score - p`, as in
  references that add a finite `-p * (1 - mask)` (Funnel's `INF = 1e6`); a
  row whose keys are all masked then softmaxes over its raw scores.
"""

from keras import ops


def padding_mask(attention_mask):
    """Turns a `(batch, key_len)` 0/1 mask into a `(batch, 1, 1, key_len)` bool mask.

    Args:
        attention_mask: tensor `(batch, key_len)` of int or bool; nonzero/`True`
            marks tokens to attend to.

    Returns:
        bool tensor `(batch, 1, 1, key_len)`.
    """
    mask = ops.convert_to_tensor(attention_mask)
    if mask.dtype != "bool":
        mask = ops.not_equal(mask, 0)
    return mask[:, None, None, :]


def causal_mask(query_len, key_len, offset=None, window_size=None):
    """Lower-triangular mask `(1, 1, query_len, key_len)`, optionally banded.

    Args:
        query_len: int or scalar tensor, number of query positions.
        key_len: int or scalar tensor, number of key positions.
        offset: position of the first query among the keys; defaults to
            `key_len - query_len` (queries are the last positions, as when
            decoding with a cache).
        window_size: optional int; if given, query `i` also sees only the
            last `window_size` keys, `i + offset - j < window_size` (local
            attention of GPT-Neo / Longformer-style sliding windows).

    Returns:
        bool tensor `(1, 1, query_len, key_len)`, `True` where key `j` is not
        after query `i`, i.e. `j <= i + offset` (and within the window).
    """
    if offset is None:
        offset = key_len - query_len
    rows = ops.arange(query_len)[:, None] + offset
    cols = ops.arange(key_len)[None, :]
    mask = ops.greater_equal(rows, cols)
    if window_size is not None:
        mask = ops.logical_and(mask, ops.less(rows - cols, window_size))
    return mask[None, None, :, :]


def merge_masks(*masks):
    """Combines boolean masks with `&`, skipping `None`s.

    Args:
        *masks: bool tensors that broadcast against each other (and against
            the scores `(batch, num_heads, query_len, key_len)`), or `None`.
            3-D masks `(batch, query_len, key_len)` get a heads axis.

    Returns:
        The combined bool tensor, or `None` when every mask is `None`.
    """
    result = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.convert_to_tensor(mask)
        if mask.dtype != "bool":
            mask = ops.not_equal(mask, 0)
        if len(mask.shape) == 3:
            mask = mask[:, None, :, :]
        result = mask if result is None else ops.logical_and(result, mask)
    return result


def mask_scores(scores, mask=None, penalty=None):
    """Attention logits in float32 with masked positions pushed down.

    What the softmax sees; also returned as "attention scores" by models whose
    reference outputs pre-softmax logits (SqueezeBERT).

    Args:
        scores: float tensor, e.g. `(batch, num_heads, query_len, key_len)`.
        mask: optional bool tensor broadcastable to `scores`; `True` = keep.
        penalty: optional positive float. `None`: masked positions are set to
            the float32 minimum. A number: it is subtracted from masked
            positions (the reference's additive `-penalty * (1 - mask)`).

    Returns:
        float32 tensor shaped like `scores`.
    """
    scores = ops.cast(scores, "float32")
    if mask is None:
        return scores
    if penalty is None:
        masked = ops.cast(-3.4028234663852886e38, "float32")
    else:
        masked = scores - ops.cast(penalty, "float32")
    return ops.where(mask, scores, masked)


def masked_softmax(scores, mask=None, axis=-1, penalty=None):
    """Softmax over `axis` with masked positions excluded, computed in float32.

    By default masked positions get the float32 minimum before the softmax,
    so a row with at least one visible key gives exactly zero weight to
    masked keys; a fully masked row gives uniform weights (as the PyTorch
    references do). With `penalty`, masked scores are lowered by that amount
    instead (see `mask_scores`).

    Args:
        scores: float tensor, e.g. `(batch, num_heads, query_len, key_len)`.
        mask: optional bool tensor broadcastable to `scores`; `True` = keep.
        axis: axis to normalise over.
        penalty: optional positive float, additive-penalty mode.

    Returns:
        float tensor shaped like `scores`, in `scores`' dtype.
    """
    dtype = scores.dtype
    return ops.cast(ops.softmax(mask_scores(scores, mask, penalty), axis=axis), dtype)

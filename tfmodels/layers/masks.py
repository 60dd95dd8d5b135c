"""Boolean attention masks: building, combining and the one masked softmax.

Masks are boolean (`True` = attend). They broadcast against attention scores
of shape `(batch, num_heads, query_len, key_len)` and are combined with `&`:

- padding (key) mask `(batch, 1, 1, key_len)`, from a `(batch, key_len)`
  `attention_mask` of 0/1 integers or booleans;
- causal mask `(1, 1, query_len, key_len)`; with a KV cache the queries are the
  last `query_len` positions of the keys, so query `i` sees keys `<= i + offset`;
- any extra mask the caller already has, e.g. `(batch, query_len, key_len)`.

`attention_mask_to_bool` is the one gate through which a caller's mask enters
an attention layer (`MultiHeadAttention.call`, hence every variant and
block): it checks the dtype and rank, converts the documented forms (0/1
integers, Hugging Face additive floats, Keras-style `(batch, T, S)` masks) to
the boolean `(batch | 1, heads | 1, T | 1, S)` form and refuses the rest with
a `ValueError` that lists what is accepted.

`masked_softmax` (through `mask_scores`) is the only place where masked
scores become a large negative number, in float32 so mixed precision never
overflows. Two modes:

- exclusion (default): masked scores are replaced by the float32 minimum, so
  masked keys get exactly zero weight;
- additive penalty (`penalty=p`): masked scores become `score - p`, as in
  references that add a finite `-p * (1 - mask)` (Funnel's `INF = 1e6`); a
  row whose keys are all masked then softmaxes over its raw scores.
"""

import keras
from keras import ops

ACCEPTED_MASKS = (
    "Accepted attention masks: bool (True = attend), integer 0/1 (nonzero = attend) or a Hugging Face "
    "additive float mask (0 = attend, negative such as -1e4 = masked; a float mask with a positive entry is "
    "read as 0/1), of shape (batch, key_len), Keras-style (batch, query_len, key_len), or "
    "(batch | 1, heads | 1, query_len | 1, key_len)."
)


def _float_mask_to_bool(mask):
    """Additive (no positive entry: `0` attends) or 0/1 float mask (a positive entry: `> 0` attends)."""
    has_positive = ops.any(ops.greater(mask, 0))
    return ops.where(has_positive, ops.greater(mask, 0), ops.greater_equal(mask, 0))


def attention_mask_to_bool(attention_mask, batch_size=None, query_len=None, key_len=None, name="attention_mask"):
    """Validates a caller's attention mask and returns it boolean, broadcastable to the scores.

    Accepted forms (`True` / nonzero = attend):

    - dtype bool; integer 0/1; float: a Hugging Face additive mask
      (`(1 - m) * -1e4` or `finfo.min`: `0` attends, a negative value masks)
      when no entry is positive, otherwise a 0/1 float mask;
    - shape `(batch, key_len)` (padding mask), `(batch, query_len, key_len)`
      (Keras `MultiHeadAttention` style) or `(batch | 1, heads | 1,
      query_len | 1, key_len)` (Hugging Face "extended" masks, the form
      `padding_mask`/`causal_mask` build).

    Known (static) sizes are checked; `None` sizes are not.

    Args:
        attention_mask: the mask, or `None`.
        batch_size: int or None, `B` of the scores.
        query_len: int or None, `T`.
        key_len: int or None, `S` (with a KV cache: the cache length).
        name: the input's name in error messages.

    Returns:
        bool tensor `(B | 1, 1 | N, 1 | T, S)`, or `None` for `None`.

    Raises:
        ValueError: for another rank, a size that does not match, or a
            dtype that is not bool, integer or float.
    """
    if attention_mask is None:
        return None
    mask = ops.convert_to_tensor(attention_mask)
    shape, dtype = tuple(mask.shape), keras.backend.standardize_dtype(mask.dtype)
    rank = len(shape)
    sizes = f"batch={batch_size}, query_len={query_len}, key_len={key_len}"
    expected = {2: (batch_size, key_len), 3: (batch_size, query_len, key_len),
                4: (batch_size, None, query_len, key_len)}
    if rank not in expected:
        raise ValueError(f"`{name}` has rank {rank}; expected rank 2, 3 or 4 (attention sizes {sizes}). "
                         f"{ACCEPTED_MASKS} Received: {name} with shape {shape} and dtype {dtype}.")
    for axis, (size, want) in enumerate(zip(shape, expected[rank])):
        broadcast = size == 1 and not (rank == 2 and axis == 1)
        if size is None or want is None or size == want or broadcast:
            continue
        raise ValueError(f"`{name}` of shape {shape} does not match the attention sizes {sizes} "
                         f"(axis {axis}: {size} vs {want}). {ACCEPTED_MASKS}")
    if dtype == "bool":
        pass
    elif "int" in dtype:
        mask = ops.not_equal(mask, 0)
    elif "float" in dtype:
        mask = _float_mask_to_bool(mask)
    else:
        raise ValueError(f"`{name}` has dtype {dtype}. {ACCEPTED_MASKS} Received: {name} with shape {shape}.")
    if rank == 2:
        return mask[:, None, None, :]  # (batch, 1, 1, key_len)
    if rank == 3:
        return mask[:, None, :, :]  # (batch, 1, query_len, key_len)
    return mask



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

"""Masked mean pooling: sentence embeddings from token states."""

from keras import ops


def masked_mean_pooling(hidden_states, attention_mask):
    """Averages token states over the real (unmasked) tokens.

    The pooling sentence-transformers uses for models such as
    all-MiniLM-L6-v2 (`pooling_mode_mean_tokens`).

    Args:
        hidden_states: float tensor `(batch, seq_len, hidden_size)`.
        attention_mask: int/bool tensor `(batch, seq_len)`, 1 for real tokens.

    Returns:
        float tensor `(batch, hidden_size)`.
    """
    mask = ops.cast(attention_mask, hidden_states.dtype)[:, :, None]
    total = ops.sum(hidden_states * mask, axis=1)
    count = ops.maximum(ops.sum(mask, axis=1), 1e-9)
    return total / count


def l2_normalize(x, axis=-1, epsilon=1e-12):
    """`x / max(||x||, epsilon)` along `axis` (as `torch.nn.functional.normalize`)."""
    norm = ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True))
    return x / ops.maximum(norm, epsilon)


POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")


def sentence_pooling(hidden_states, attention_mask, mode="mean"):
    """One vector per sentence from its token states, as sentence-transformers' `Pooling` module.

    Args:
        hidden_states: float tensor `(batch, seq_len, hidden_size)`.
        attention_mask: int/bool tensor `(batch, seq_len)`, 1 for real tokens.
        mode: `"mean"` (`pooling_mode_mean_tokens`), `"cls"` (the first
            token), `"max"` (per-feature maximum over real tokens) or
            `"mean_sqrt_len"` (sum over real tokens / sqrt(count)).

    Returns:
        float tensor `(batch, hidden_size)`.

    Raises:
        ValueError: unknown `mode`.
    """
    if mode == "mean":
        return masked_mean_pooling(hidden_states, attention_mask)
    if mode == "cls":
        return hidden_states[:, 0]
    mask = ops.cast(attention_mask, hidden_states.dtype)[:, :, None]
    if mode == "max":  # padding set to -1e9 first, as sentence-transformers
        return ops.max(ops.where(mask > 0, hidden_states, ops.cast(-1e9, hidden_states.dtype)), axis=1)
    if mode == "mean_sqrt_len":
        count = ops.maximum(ops.sum(mask, axis=1), 1e-9)
        return ops.sum(hidden_states * mask, axis=1) / ops.sqrt(count)
    raise ValueError(f"Unknown pooling mode {mode!r}; expected one of {POOLING_MODES}.")

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

"""Small helpers shared by the layers, models and converters."""

import math

import keras
import numpy as np
import tensorflow as tf

# Variables (and checkpoint tensors) larger than this are moved in row blocks.
ROW_BLOCK_BYTES = 16 * 1024 * 1024


def clone_initializer(initializer):
    """Returns a fresh copy of a Keras initializer (so sublayers never share state)."""
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())


def hf_initializer(initializer_range=0.02):
    """The truncated-free normal init Hugging Face models use: `N(0, initializer_range)`."""
    return keras.initializers.RandomNormal(stddev=initializer_range)


def row_blocks(shape, itemsize=4, block_bytes=ROW_BLOCK_BYTES):
    """`(start, stop)` row ranges of at most `block_bytes` each, or `None` if
    a tensor of `shape` is small enough (or not a table) to move in one piece."""
    shape = tuple(shape)
    if len(shape) < 2:
        return None
    row_bytes = itemsize * math.prod(shape[1:])
    if row_bytes * shape[0] <= block_bytes:
        return None
    step = max(1, block_bytes // row_bytes)
    return [(start, min(shape[0], start + step)) for start in range(0, shape[0], step)]


# Reads of large variables go in blocks this big (see `variable_to_numpy`).
READ_BLOCK_BYTES = 4 * 1024 * 1024


def _backend_variable(variable):
    return variable.value if isinstance(variable, keras.Variable) else variable


def read_blocks(variable):
    """Row blocks in which `read_rows` should read `variable`, or `None` to read it whole."""
    value = _backend_variable(variable)
    if not hasattr(value, "sparse_read"):
        return None
    return row_blocks(variable.shape, value.dtype.size, block_bytes=READ_BLOCK_BYTES)


def read_rows(variable, start, stop):
    """Rows `start:stop` of a variable as a new NumPy array, without reading the other rows."""
    rows = _backend_variable(variable).sparse_read(tf.range(start, stop)).numpy()
    disable_copy_on_read(variable)
    return rows


def disable_copy_on_read(variable):
    """Lets whole reads of `variable` share its buffer again instead of copying it.

    A partial access to a TensorFlow resource variable (`ResourceGather`,
    which `sparse_read` runs, `ResourceStridedSliceAssign`, the scatter ops)
    switches it to copy-on-read mode for good: from then on every whole read
    (`ReadVariableOp`, what each layer call in a `tf.function` runs) copies
    the buffer. For a word-embedding table that is one full copy per call:
    about 25 ms for GPT-2's `(50257, 768)` table on a 2-core Xeon, twice per
    generated token in graph mode. XLA clusters read variables without that
    copy. Call this after such partial accesses; a later partial access
    switches the mode on again (copying first if a read still shares the
    buffer), so values are never affected.

    Args:
        variable: a `keras.Variable` (TensorFlow backend) or `tf.Variable`.
    """
    value = _backend_variable(variable)
    if hasattr(value, "handle"):
        tf.raw_ops.DisableCopyOnRead(resource=value.handle)


def variable_to_numpy(variable):
    """Copies a Keras variable into a new NumPy array, holding one full-size copy.

    `np.array(variable)` and `variable.numpy()` hold two at their peak when
    the variable is in copy-on-read mode (see `disable_copy_on_read`):
    TensorFlow reads it by copying its buffer, and `numpy()` copies that
    again; for BERT-base's word embeddings that is 2 x 89 MiB. Large
    variables are gathered here in row blocks of at most `READ_BLOCK_BYTES`
    straight into the result.

    Args:
        variable: a `keras.Variable` (TensorFlow backend) or `tf.Variable`.

    Returns:
        `np.ndarray` of the variable's shape and dtype, not aliasing it.
    """
    blocks = read_blocks(variable)
    value = _backend_variable(variable)
    if blocks is None:
        return np.array(value)
    out = np.empty(tuple(variable.shape), value.dtype.as_numpy_dtype)
    for start, stop in blocks:
        out[start:stop] = read_rows(variable, start, stop)
    return out


def chunked_call(fn, x, chunk_size, name="chunked_call"):
    """`fn(x)` computed on `chunk_size` positions of `x (batch, seq_len, ...)` at a time, concatenated.

    The same result as `fn(x)` for position-wise `fn` (feed-forward chunking:
    `transformers.pytorch_utils.apply_chunking_to_forward`), with one chunk's
    activations alive at a time. `chunk_size=0` (or a sequence no longer than
    a chunk) calls `fn(x)` once.

    Raises:
        ValueError: a static `seq_len` that is not a multiple of `chunk_size`.
    """
    seq_len = x.shape[1]
    if not chunk_size or seq_len is None or seq_len <= chunk_size:
        return fn(x)
    if seq_len % chunk_size:
        raise ValueError(f"{name}: the sequence length {seq_len} must be a multiple of the chunk size {chunk_size}.")
    return keras.ops.concatenate([fn(x[:, start: start + chunk_size]) for start in range(0, seq_len, chunk_size)],
                                 axis=1)

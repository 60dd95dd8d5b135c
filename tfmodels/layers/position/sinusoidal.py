"""Fixed sinusoidal position tables (Vaswani et al.) as a Keras initializer."""

import keras
import numpy as np
from keras import ops


def sinusoidal_table(num_positions, dim):
    """`(num_positions, dim)` table: `sin` on even columns, `cos` on odd ones.

    Entry `(pos, j)` uses the angle `pos / 10000 ** (2 * (j // 2) / dim)`, the
    layout of `transformers`' `create_sinusoidal_embeddings` (XLM, FlauBERT,
    DistilBERT).
    """
    positions = np.arange(num_positions, dtype="float64")[:, None]
    rates = np.power(10000.0, 2 * (np.arange(dim) // 2) / dim)[None, :]
    angles = positions / rates  # (num_positions, dim)
    table = np.empty((num_positions, dim), dtype="float64")
    table[:, 0::2] = np.sin(angles[:, 0::2])
    table[:, 1::2] = np.cos(angles[:, 1::2])
    return table


@keras.saving.register_keras_serializable(package="tfmodels")
class SinusoidalInitializer(keras.initializers.Initializer):
    """Initialises a `(num_positions, dim)` embedding table with `sinusoidal_table`.

    Used as `TransformerEmbeddings(position_initializer=...)`: checkpoints
    store the table, so loading overwrites it; freshly built models get the
    fixed encoding.

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"SinusoidalInitializer needs a 2-D shape (positions, dim). Received: shape={shape}")
        return ops.convert_to_tensor(sinusoidal_table(*shape), dtype=dtype or "float32")

    def get_config(self):
        return {}

"""2-D layout embeddings of token bounding boxes (LayoutLM)."""

import keras
from keras import ops

from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class BoundingBoxEmbedding(keras.layers.Layer):
    """Sum of embeddings of a token's box corners and size.

    For a box `(x0, y0, x1, y1)` (integers in `[0, max_2d_position_embeddings)`)::

        x(x0) + y(y0) + x(x1) + y(y1) + h(y1 - y0) + w(x1 - x0)

    where `x` and `y` are shared between the two corners. The result is added
    to the token embeddings (`TransformerEmbeddings(extra_embeddings=...)`).

    Args:
        max_2d_position_embeddings: int, size of each coordinate table.
        hidden_size: int, embedding width `D`.
        initializer_range: float, stddev of the normal initialiser.
        **kwargs: base layer arguments.

    Call args:
        bbox: int tensor `(batch, seq_len, 4)`.

    Returns:
        float tensor `(batch, seq_len, hidden_size)`.

    References:
        Xu et al., "LayoutLM: Pre-training of Text and Layout for Document
        Image Understanding", KDD 2020. Parity reference:
        `transformers.models.layoutlm.modeling_layoutlm.LayoutLMEmbeddings`.
    """

    def __init__(self, max_2d_position_embeddings, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.max_2d_position_embeddings = max_2d_position_embeddings
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        init = keras.initializers.RandomNormal(stddev=initializer_range)
        for name in ("x_position_embeddings", "y_position_embeddings", "h_position_embeddings", "w_position_embeddings"):
            setattr(self, name, keras.layers.Embedding(
                max_2d_position_embeddings, hidden_size, embeddings_initializer=clone_initializer(init),
                dtype=self.dtype_policy, name=name,
            ))

    def build(self, input_shape):
        for table in (self.x_position_embeddings, self.y_position_embeddings,
                      self.h_position_embeddings, self.w_position_embeddings):
            table.build(input_shape[:-1])
        self.built = True

    def call(self, bbox):
        x0, y0, x1, y1 = (bbox[..., i] for i in range(4))  # each (batch, seq_len)
        return (
            self.x_position_embeddings(x0)
            + self.y_position_embeddings(y0)
            + self.x_position_embeddings(x1)
            + self.y_position_embeddings(y1)
            + self.h_position_embeddings(y1 - y0)
            + self.w_position_embeddings(x1 - x0)
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.hidden_size)

    def get_config(self):
        return {
            **super().get_config(),
            "max_2d_position_embeddings": self.max_2d_position_embeddings,
            "hidden_size": self.hidden_size,
            "initializer_range": self.initializer_range,
        }


def zero_boxes(input_ids):
    """The default `bbox` when none is given: zeros `(batch, seq_len, 4)`."""
    return ops.zeros((*ops.shape(input_ids), 4), dtype="int32")

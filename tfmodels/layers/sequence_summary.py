"""Sequence summary: one vector per sequence from its hidden states (XLNet, GPT-2 double heads)."""

import keras
from keras import ops

from tfmodels.layers.activations import get_activation
from tfmodels.layers.utils import clone_initializer

SUMMARY_TYPES = ("last", "first", "mean")


@keras.saving.register_keras_serializable(package="tfmodels")
class SequenceSummary(keras.layers.Layer):
    """`activation(summary(dropout(select(x))))`, `select` = last/first token or mean.

    Args:
        hidden_size: int, output width of the projection.
        summary_type: `"last"`, `"first"` or `"mean"`.
        use_proj: bool, apply the `summary` dense projection.
        activation: Hugging Face activation name or None.
        first_dropout: float, dropout before the projection.
        kernel_initializer: projection initializer.

    Call args:
        hidden_states: float tensor `(batch, seq_len, D)`.

    Returns:
        float tensor `(batch, hidden_size)` (`(batch, D)` without projection).

    References: `transformers` `XLNetSequenceSummary` (`SequenceSummary`).
    """

    def __init__(self, hidden_size, summary_type="last", use_proj=True, activation="tanh", first_dropout=0.0,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if summary_type not in SUMMARY_TYPES:
            raise ValueError(f"summary_type must be one of {SUMMARY_TYPES}. Received: summary_type={summary_type!r}")
        self.hidden_size = hidden_size
        self.summary_type = summary_type
        self.use_proj = use_proj
        self.activation = activation
        self.first_dropout = first_dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation_fn = get_activation(activation) if activation else (lambda x: x)
        self.dropout = keras.layers.Dropout(first_dropout, dtype=self.dtype_policy)
        self.summary = keras.layers.Dense(
            hidden_size, kernel_initializer=clone_initializer(self.kernel_initializer), dtype=self.dtype_policy,
            name="summary",
        ) if use_proj else None

    def build(self, input_shape):
        if self.summary is not None:
            self.summary.build((input_shape[0], input_shape[-1]))
        self.built = True

    def call(self, hidden_states, training=None):
        if self.summary_type == "last":
            x = hidden_states[:, -1]
        elif self.summary_type == "first":
            x = hidden_states[:, 0]
        else:
            x = ops.mean(hidden_states, axis=1)
        x = self.dropout(x, training=training)
        if self.summary is not None:
            x = self.summary(x)
        return self._activation_fn(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.hidden_size if self.use_proj else input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "summary_type": self.summary_type,
            "use_proj": self.use_proj,
            "activation": self.activation,
            "first_dropout": self.first_dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }

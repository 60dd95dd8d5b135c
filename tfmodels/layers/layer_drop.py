"""LayerDrop: skip a whole residual layer at random during training."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfmodels")
class LayerDrop(keras.layers.Layer):
    """Keeps a layer's input instead of its output with probability `rate` (training only).

    The layer is always computed and the choice is a `where`, so the graph
    keeps static shapes and compiles with XLA; at inference (or `rate=0`) the
    output passes through unchanged.

    Args:
        rate: float in `[0, 1)`, probability of skipping the layer.
        seed: optional int seed.
        **kwargs: base layer arguments.

    Call args:
        inputs: float tensor `(batch, seq_len, hidden_size)`, the layer's input.
        outputs: float tensor of the same shape, the layer's output.
        training: bool.

    Returns:
        `outputs`, or `inputs` for the whole batch when the layer is dropped.

    References:
        Fan et al., "Reducing Transformer Depth on Demand with Structured
        Dropout", ICLR 2020. Parity reference: the `layerdrop` loop of
        `transformers.models.flaubert.modeling_flaubert.FlaubertModel`.
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"LayerDrop rate must be in [0, 1). Received: rate={rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if rate > 0 else None

    def call(self, inputs, outputs, training=None):
        if not training or self.rate == 0:
            return outputs
        keep = keras.random.uniform((), seed=self.seed_generator) >= self.rate
        return ops.where(keep, outputs, inputs)

    def compute_output_shape(self, inputs_shape, outputs_shape):
        return outputs_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

"""Absolute position embeddings looked up by position index, from a start offset (KV-cache steps)."""

import keras
from keras import ops

from tfmodels.layers.position.sinusoidal import fairseq_sinusoidal_table, padding_offset_positions, sinusoidal_table


@keras.saving.register_keras_serializable(package="tfmodels")
class PositionEmbedding(keras.layers.Layer):
    """A `(num_positions + offset, dim)` table; row `offset + start + t` embeds position `t` of a call.

    BART and mBART learn their table with `offset=2` (the first two rows are
    never used: fairseq reserved them for padding); Marian and Pegasus use a
    fixed sinusoid table (`sinusoidal=True`: `sinusoidal_table(...,
    interleaved=False)`, a constant, not a variable), which checkpoints may
    store and loading verifies.

    With `padding_idx` (fairseq: M2M100, FSMT) positions come from the token
    ids (`padding_offset_positions`: padding tokens read row `padding_idx`,
    the others `padding_idx + 1, + 2, ...` counting non-padding tokens only),
    and the fixed table (`sinusoidal=True`) is `fairseq_sinusoidal_table`,
    zero at row `padding_idx`. FSMT stores its table: it is then a learned
    table made with `FairseqSinusoidalInitializer` and `trainable=False`.

    Args:
        num_positions: int, positions the table covers (`max_position_embeddings`).
        dim: int, embedding width `D`.
        offset: int, rows before position 0.
        embeddings_initializer: initializer of the learned table.
        sinusoidal: bool, use the fixed sinusoid table instead of a variable.
        padding_idx: int or None, number positions from the token ids (fairseq).
        start_on_padding: bool, with `padding_idx`: padding tokens of a cached
            step read row `padding_idx + start` (FSMT), not `padding_idx` (M2M100).
        **kwargs: base layer arguments (`trainable=False` for a fixed table).

    Call args:
        x: tensor `(B, T, ...)`; only its length `T` is read.
        start: int or scalar int tensor, position of the first token (the
            cache index when decoding step by step).
        input_ids: int tensor `(B, T)`, required with `padding_idx`.

    Returns:
        float tensor `(1, T, D)`; `(B, T, D)` with `padding_idx`.

    Raises:
        ValueError: `padding_idx` set and no `input_ids` given.

    References:
        Lewis et al., "BART: Denoising Sequence-to-Sequence Pre-training for
        Natural Language Generation, Translation, and Comprehension", ACL 2020.
        Parity reference: `transformers.models.bart.modeling_bart.BartLearnedPositionalEmbedding`.
    """

    def __init__(self, num_positions, dim, offset=0, embeddings_initializer="uniform", sinusoidal=False,
                 padding_idx=None, start_on_padding=False, **kwargs):
        super().__init__(**kwargs)
        if num_positions <= 0 or dim <= 0 or offset < 0:
            raise ValueError(
                "num_positions and dim must be positive and offset non-negative. Received: "
                f"num_positions={num_positions}, dim={dim}, offset={offset}"
            )
        self.num_positions = num_positions
        self.dim = dim
        self.offset = offset
        self.sinusoidal = sinusoidal
        self.padding_idx = padding_idx
        self.start_on_padding = start_on_padding
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        if self.sinusoidal:
            # A NumPy constant (made into a tensor at each call: a tensor made here would belong to the build graph).
            rows = self.num_positions + self.offset
            if self.padding_idx is None:
                table = sinusoidal_table(rows, self.dim, interleaved=False)
            else:
                table = fairseq_sinusoidal_table(rows, self.dim, self.padding_idx)
            self.table = table.astype("float32")
            self.built = True
            return
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.num_positions + self.offset, self.dim),
            initializer=self.embeddings_initializer, trainable=self.trainable,
        )
        self.built = True

    def call(self, x, start=0, input_ids=None):
        table = ops.convert_to_tensor(self.table) if self.sinusoidal else self.embeddings
        if self.padding_idx is not None:
            if input_ids is None:
                raise ValueError("PositionEmbedding with padding_idx numbers positions from the token ids: "
                                 "pass input_ids.")
            return ops.take(table, padding_offset_positions(input_ids, self.padding_idx, start, self.start_on_padding),
                            axis=0)  # (B, T, D)
        length = ops.shape(x)[1]
        positions = ops.arange(length, dtype="int32") + ops.cast(start, "int32") + self.offset  # (T,)
        return ops.expand_dims(ops.take(table, positions, axis=0), 0)  # (1, T, D)

    def compute_output_shape(self, input_shape):
        return (1 if self.padding_idx is None else input_shape[0], input_shape[1], self.dim)

    def get_config(self):
        return {
            **super().get_config(),
            "num_positions": self.num_positions,
            "dim": self.dim,
            "offset": self.offset,
            "sinusoidal": self.sinusoidal,
            "padding_idx": self.padding_idx,
            "start_on_padding": self.start_on_padding,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }

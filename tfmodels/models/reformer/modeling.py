"""Reformer: reversible layers of LSH and local self-attention, axial positions, chunked feed-forward.

The backbone embeds the tokens (token embeddings + axial or learned
positions), runs `ReversibleBlock`s over two copies of the embeddings,
concatenates the two final streams and normalises them: `last_hidden_state`
is `(batch, seq_len, 2 * hidden_size)`, which is what every head reads.

Padding inside the model, as the reference: a sequence longer than the
shortest chunk length and not a multiple of the least common multiple of
the chunk lengths is right-padded to that multiple (`pad_token_id`, masked
out); `last_hidden_state` is cut back to the input length, while
`hidden_states` (the second stream before each layer and after the last,
`(batch, padded_len, hidden_size)`) and `attentions` keep the padded
length, as in the reference. With a static length (eager calls, `fit()`,
XLA) every decision is made at trace time. With a dynamic one (a SavedModel
signature over `(None, None)` inputs, `tfmodels.export_saved_model`) the
padding is computed in the graph, each attention layer chooses between one
chunk (plain attention) and chunks with a `tf.cond` on the length, and a
padded length past the position table fails at run time with the same
message; attention outputs need a static length, and LSH layers need a set
`num_buckets` (the reference's `None` picks it from the length).

LSH attention is random: see `tfmodels.layers.attention.reformer_attention.
LSHSelfAttention`. Every call takes a `random_rotations` keyword argument
to fix the rotations: one tensor shared by every LSH layer (what the
reference draws when `hash_seed` is set: it re-seeds before every layer),
or a list with one tensor (or `None`) per LSH layer.

Training runs ordinary autodiff through the reversible formula (the
reference's memory-saving backward pass recomputes activations instead;
the gradients are the same, the memory is not saved).

Not implemented: the reference's `num_hashes` call argument (set the
config field), `inputs_embeds`, and its `past_buckets_states` cache
(`generate()` re-runs the prefix instead, see `tfmodels.models.reformer.heads`).

References:
    Kitaev, Kaiser, Levskaya, "Reformer: The Efficient Transformer", 2020.
    Parity reference: `transformers.models.reformer.modeling_reformer` (PyTorch).
"""

import logging
import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.layers.embeddings import WordEmbedding
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.position.axial import AxialPositionEmbedding
from tfmodels.layers.reversible_block import ReversibleBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, stack_outputs

logger = logging.getLogger("tfmodels")

INPUT_NAMES = ("input_ids", "attention_mask", "position_ids")


class ReformerModel(PreTrainedModel):
    """The Reformer encoder (a decoder with `is_decoder=True`).

    Args: the fields of a Hugging Face `ReformerConfig` (`attn_layers`,
    `attention_head_size`, `axial_pos_embds`, `axial_pos_shape`,
    `axial_pos_embds_dim`, `num_hashes`, `num_buckets`, `hash_seed`,
    `lsh_attn_chunk_length`, `local_attn_chunk_length`,
    `{lsh,local}_num_chunks_{before,after}`, `chunk_size_feed_forward`,
    `feed_forward_size`, `is_decoder`, ...; the number of layers is
    `len(attn_layers)`).

    Call inputs (dict or keywords; int `(batch, seq_len)`): `input_ids`,
    `attention_mask` (1 = token, 0 = padding), `position_ids`. Call
    keywords: `random_rotations` (module docstring), `output_attentions`,
    `output_hidden_states`.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, 2 * hidden_size)` and,
        when asked, `hidden_states` (`len(attn_layers) + 1` tensors
        `(batch, padded_len, hidden_size)`) and `attentions` (per layer: LSH
        `(batch, heads, num_hashes * padded_len / L, L, A)` in bucket order,
        local `(batch, heads, padded_len / L, L, A)`, or `(batch, heads,
        padded_len, padded_len)` for a sequence of one chunk; `L` the layer's
        chunk length, `A = L * (1 + chunks_before + chunks_after)`).

    Raises:
        ValueError: unknown or no `attn_layers`, axial dims that do not sum
            to `hidden_size`, odd bucket counts, a sequence longer than the
            position table (after padding; at run time for a dynamic length),
            a dynamic sequence length with `num_buckets=None` or with
            `output_attentions`.
    """

    model_type = "reformer"
    input_names = INPUT_NAMES
    serving_outputs = ("last_hidden_state",)

    def __init__(self, vocab_size=320, hidden_size=256, attention_head_size=64,
                 attn_layers=("local", "lsh", "local", "lsh", "local", "lsh"), axial_norm_std=1.0,
                 axial_pos_embds=True, axial_pos_shape=(64, 64), axial_pos_embds_dim=(64, 192),
                 chunk_size_lm_head=0, chunk_size_feed_forward=0, feed_forward_size=512, hash_seed=None,
                 hidden_act="relu", hidden_dropout_prob=0.05, initializer_range=0.02, is_decoder=False,
                 layer_norm_eps=1e-12, local_num_chunks_before=1, local_num_chunks_after=0,
                 local_attention_probs_dropout_prob=0.05, local_attn_chunk_length=64, lsh_attn_chunk_length=64,
                 lsh_attention_probs_dropout_prob=0.0, lsh_num_chunks_before=1, lsh_num_chunks_after=0,
                 max_position_embeddings=4096, num_attention_heads=12, num_buckets=None, num_hashes=1,
                 pad_token_id=0, eos_token_id=2, add_pooling_layer=False, **kwargs):
        kwargs.pop("num_hidden_layers", None)  # derived from attn_layers
        super().__init__(**kwargs)
        attn_layers = list(attn_layers)
        axial_pos_shape, axial_pos_embds_dim = list(axial_pos_shape), list(axial_pos_embds_dim)
        num_buckets = list(num_buckets) if isinstance(num_buckets, (list, tuple)) else num_buckets
        self._record_config(locals(), exclude=("add_pooling_layer",))
        if not attn_layers or set(attn_layers) - {"lsh", "local"}:
            raise ValueError(f"attn_layers must be a non-empty list of 'lsh' / 'local'. "
                             f"Received: attn_layers={attn_layers!r}")
        if axial_pos_embds and sum(axial_pos_embds_dim) != hidden_size:
            raise ValueError(f"axial_pos_embds_dim must sum to hidden_size. Received: "
                             f"axial_pos_embds_dim={axial_pos_embds_dim}, hidden_size={hidden_size}")
        self.is_decoder = is_decoder
        self.max_positions = max_position_embeddings
        chunks = {"lsh": lsh_attn_chunk_length, "local": local_attn_chunk_length}
        used = sorted({chunks[kind] for kind in attn_layers})
        self.min_chunk_length = used[0]
        self.chunk_multiple = math.lcm(*used)
        init = hf_initializer(initializer_range)
        self.word_embeddings = WordEmbedding(vocab_size, hidden_size, embeddings_initializer=init,
                                             dtype=self.dtype_policy, name="word_embeddings")
        if axial_pos_embds:
            self.position_embeddings = AxialPositionEmbedding(
                axial_pos_shape, axial_pos_embds_dim, dropout=hidden_dropout_prob,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=axial_norm_std),
                dtype=self.dtype_policy, name="position_embeddings")
            self.max_positions = min(max_position_embeddings, self.position_embeddings.num_positions)
        else:
            self.position_embeddings = keras.layers.Embedding(max_position_embeddings, hidden_size,
                                                              embeddings_initializer=init, dtype=self.dtype_policy,
                                                              name="position_embeddings")
        self.embedding_dropout = keras.layers.Dropout(hidden_dropout_prob, dtype=self.dtype_policy)
        self.position_dropout = keras.layers.Dropout(0.0 if axial_pos_embds else hidden_dropout_prob,
                                                     dtype=self.dtype_policy)
        attention_kwargs = {
            "lsh": dict(chunk_length=lsh_attn_chunk_length, num_chunks_before=lsh_num_chunks_before,
                        num_chunks_after=lsh_num_chunks_after, num_hashes=num_hashes, num_buckets=num_buckets,
                        hash_seed=hash_seed, is_decoder=is_decoder, max_position_embeddings=max_position_embeddings,
                        dropout=lsh_attention_probs_dropout_prob),
            "local": dict(chunk_length=local_attn_chunk_length, num_chunks_before=local_num_chunks_before,
                          num_chunks_after=local_num_chunks_after, is_decoder=is_decoder,
                          dropout=local_attention_probs_dropout_prob),
        }
        self.blocks = [
            ReversibleBlock(kind, num_attention_heads, attention_head_size, feed_forward_size, hidden_act=hidden_act,
                            hidden_dropout=hidden_dropout_prob, layer_norm_eps=layer_norm_eps,
                            chunk_size_feed_forward=chunk_size_feed_forward, kernel_initializer=init,
                            attention_kwargs=attention_kwargs[kind], dtype=self.dtype_policy, name=f"layers_{i}")
            for i, kind in enumerate(attn_layers)
        ]
        self.layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm")
        self.output_dropout = keras.layers.Dropout(hidden_dropout_prob, dtype=self.dtype_policy)

    def hf_config(self):
        config = super().hf_config()
        config["num_hidden_layers"] = len(self.config["attn_layers"])
        return config

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return {"input_ids": np.ones((batch_size, seq_len), dtype="int32"),
                "attention_mask": np.ones((batch_size, seq_len), dtype="int32")}

    def padded_length(self, seq_len):
        """The length the model runs a sequence of `seq_len` at (the reference's padding rule)."""
        if seq_len > self.min_chunk_length and seq_len % self.chunk_multiple:
            return seq_len + self.chunk_multiple - seq_len % self.chunk_multiple
        return seq_len

    def lsh_layers(self):
        """The `LSHSelfAttention` layers, in order (what a `random_rotations` list lines up with)."""
        return [block.attention for block in self.blocks if block.attention_type == "lsh"]

    def _layer_rotations(self, random_rotations):
        """`random_rotations` (None, one tensor, or one per LSH layer) -> one entry per block."""
        kinds = [block.attention_type for block in self.blocks]
        if random_rotations is None or not isinstance(random_rotations, (list, tuple)):
            return [random_rotations if kind == "lsh" else None for kind in kinds]
        if len(random_rotations) != kinds.count("lsh"):
            raise ValueError(f"random_rotations must be one tensor or a list with one per LSH layer "
                             f"({kinds.count('lsh')}). Received a list of {len(random_rotations)}.")
        per_lsh = iter(random_rotations)
        return [next(per_lsh) if kind == "lsh" else None for kind in kinds]

    def _static_padding(self, seq_len):
        """Padding (int) for a static `seq_len`, after checking the padded length against the positions."""
        padded_len = self.padded_length(seq_len)
        if padded_len > self.max_positions:
            raise ValueError(
                f"{type(self).__name__} accepts sequences of at most {self.max_positions} positions "
                f"(max_position_embeddings, axial_pos_shape) after padding to a multiple of {self.chunk_multiple}. "
                f"Received: sequence length {seq_len} (padded: {padded_len}).")
        return padded_len - seq_len

    def _dynamic_padding(self, input_ids):
        """`(seq_len, pad)` int32 scalars for a dynamic length: `padded_length` in the graph, checked at run time.

        Raises:
            ValueError: an LSH layer with `num_buckets=None` (its bucket count depends on the length).
        """
        for layer in self.lsh_layers():
            layer.buckets_for(None)  # raises for num_buckets=None
        seq_len = tf.shape(input_ids)[1]
        multiple = self.chunk_multiple
        pad = tf.where(seq_len > self.min_chunk_length, (multiple - seq_len % multiple) % multiple, 0)
        tf.debugging.assert_less_equal(
            seq_len + pad, self.max_positions,
            message=f"{type(self).__name__} accepts sequences of at most {self.max_positions} positions "
                    f"(max_position_embeddings, axial_pos_shape) after padding to a multiple of {multiple}")
        return seq_len, pad

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             random_rotations=None):
        inputs = self._prepare_inputs(inputs)
        return self.forward(inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
                            position_ids=inputs.get("position_ids"), random_rotations=random_rotations,
                            training=training, output_attentions=output_attentions,
                            output_hidden_states=output_hidden_states)

    def forward(self, input_ids, attention_mask=None, position_ids=None, random_rotations=None, training=None,
                output_attentions=False, output_hidden_states=False):
        """The forward pass on tensors (what `call` and `generate` run)."""
        seq_len = input_ids.shape[1]
        if seq_len is None:
            seq_len, pad = self._dynamic_padding(input_ids)
        else:
            pad = self._static_padding(seq_len)
        padded_len = seq_len + pad
        batch = ops.shape(input_ids)[0]
        mask = ops.ones_like(input_ids, "bool") if attention_mask is None else ops.not_equal(attention_mask, 0)
        if position_ids is None:
            position_ids = ops.broadcast_to(tf.range(padded_len, dtype="int32")[None, :], (batch, padded_len))
        elif not isinstance(pad, int) or pad:
            extra = ops.broadcast_to(tf.range(seq_len, padded_len, dtype="int32")[None, :], (batch, pad))
            position_ids = ops.concatenate([ops.cast(position_ids, "int32"), extra], axis=1)
        if not isinstance(pad, int) or pad:
            input_ids = tf.pad(input_ids, [(0, 0), (0, pad)], constant_values=self.config["pad_token_id"] or 0)
            mask = tf.pad(mask, [(0, 0), (0, pad)], constant_values=False)
        x = self.embedding_dropout(self.word_embeddings(input_ids), training=training)
        x = x + self.position_dropout(self.position_embeddings(position_ids, training=training)
                                      if self.config["axial_pos_embds"] else self.position_embeddings(position_ids),
                                      training=training)
        rotations = self._layer_rotations(random_rotations)
        stack = run_block_stack(
            self.blocks, (x, x), call_kwargs={"attention_mask": mask},
            layer_kwargs=lambda step: {"random_rotations": rotations[step]},
            output_attentions=output_attentions, training=training,
        )
        y1, y2 = stack.x
        hidden = self.output_dropout(self.layer_norm(ops.concatenate([y1, y2], axis=-1)), training=training)
        hidden_states = [streams[1] for streams in stack.hidden_states]  # the second stream, as the reference
        return stack_outputs({"last_hidden_state": hidden[:, :seq_len]}, output_hidden_states, output_attentions,
                             hidden_states, stack.attentions)

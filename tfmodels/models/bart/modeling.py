"""The BART family's encoder-decoder backbone: BART, mBART, Marian, Pegasus as flags of one stack.

Each stack embeds tokens with the shared table `shared` (times
`sqrt(d_model)` when `scale_embedding`), adds absolute positions
(`PositionEmbedding`: learned with offset 2 in BART/mBART, a fixed sinusoid
table in Marian/Pegasus), optionally normalises them (`layernorm_embedding`),
runs its blocks (`TransformerEncoderBlock` / `TransformerDecoderBlock`,
post-norm in BART/Marian, pre-norm in mBART/Pegasus) and, in pre-norm
variants, a final layer norm. Per-variant switches are class attributes:

| attribute | BART | mBART | Marian | Pegasus |
| --- | --- | --- | --- | --- |
| `normalize_first` | False | True | False | True |
| `layernorm_embedding` | True | True | False | False |
| `final_layer_norms` | False | True | False | True |
| `sinusoidal_positions` | False | False | True | True |
| `decoder_inputs_from_input_ids` | True | True | False | False |

Positions do not depend on padding (row `t` is position `t`, as in the
reference); a decoding step at cache index `i` uses position `i`.

Size glossary: B batch, S source length, T target length, D `d_model`,
N heads, V `vocab_size`.

References:
    Lewis et al., "BART: Denoising Sequence-to-Sequence Pre-training for
    Natural Language Generation, Translation, and Comprehension", ACL 2020;
    Liu et al., "Multilingual Denoising Pre-training for Neural Machine
    Translation", TACL 2020 (mBART); Junczys-Dowmunt et al., "Marian: Fast
    Neural Machine Translation in C++", ACL 2018; Zhang et al., "PEGASUS",
    ICML 2020. Parity references: `transformers.BartModel`, `MBartModel`,
    `MarianModel`, `PegasusModel` (PyTorch).
"""

import math

import keras
import numpy as np
from keras import ops

from tfmodels.layers.decoder_block import TransformerDecoderBlock
from tfmodels.layers.embeddings import WordEmbedding
from tfmodels.layers.masks import padding_mask
from tfmodels.layers.position.absolute import PositionEmbedding
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, run_encoder_layers, stack_outputs
from tfmodels.models.seq2seq import (
    decoder_input_ids_from,
    decoder_masks,
    decoder_outputs,
    encode_decode,
    run_decoder_layers,
    shift_tokens_right_wrapping,
)

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, used by every BART-family layer norm


class BartPreTrainedModel(PreTrainedModel):
    """The BART-family stacks from the `BartConfig` fields (the encoder unless `has_encoder` is False).

    Constructor arguments are the fields of a Hugging Face BART / mBART /
    Marian / Pegasus `config.json`; other fields are kept in `extra_config`.

    Raises:
        ValueError: `d_model` not divisible by a stack's head count.
    """

    model_type = "bart"
    has_encoder = True
    normalize_first = False
    layernorm_embedding = True
    final_layer_norms = False
    sinusoidal_positions = False
    decoder_inputs_from_input_ids = True  # BART/mBART shift `input_ids` when no decoder inputs are given
    position_offset = 2  # learned positions start at row 2 (LED: 0)
    input_names = ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask")

    def __init__(
        self,
        vocab_size=50265,
        max_position_embeddings=1024,
        encoder_layers=12,
        encoder_ffn_dim=4096,
        encoder_attention_heads=16,
        decoder_layers=12,
        decoder_ffn_dim=4096,
        decoder_attention_heads=16,
        activation_function="gelu",
        d_model=1024,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        init_std=0.02,
        scale_embedding=False,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        for stack, heads in (("encoder", encoder_attention_heads), ("decoder", decoder_attention_heads)):
            if d_model % heads:
                raise ValueError(
                    f"d_model must be divisible by {stack}_attention_heads. "
                    f"Received: d_model={d_model}, {stack}_attention_heads={heads}"
                )
        self.embed_scale = math.sqrt(d_model) if scale_embedding else 1.0
        self.shared = WordEmbedding(vocab_size, d_model, embeddings_initializer=hf_initializer(init_std),
                                    dtype=self.dtype_policy, name="shared")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.embed_positions, self.layernorm_embeddings, self.final_norms = {}, {}, {}
        stacks = (("encoder", TransformerEncoderBlock, encoder_layers, encoder_ffn_dim, encoder_attention_heads),
                  ("decoder", TransformerDecoderBlock, decoder_layers, decoder_ffn_dim, decoder_attention_heads))
        for stack, block_class, num_layers, ffn_dim, heads in stacks:
            if stack == "encoder" and not self.has_encoder:
                continue
            setattr(self, f"{stack}_embed_positions", self._make_positions(
                self._position_table_size(stack), d_model, init_std, f"{stack}_embed_positions"))
            if self.layernorm_embedding:
                setattr(self, f"{stack}_layernorm_embedding", self._norm(f"{stack}_layernorm_embedding"))
            if self.final_layer_norms:
                setattr(self, f"{stack}_layer_norm", self._norm(f"{stack}_layer_norm"))
            setattr(self, f"{stack}_blocks", [
                self._make_block(stack, i, block_class, dict(
                    num_heads=heads, intermediate_size=ffn_dim, hidden_act=activation_function,
                    hidden_dropout=dropout, attention_dropout=attention_dropout,
                    layer_norm_eps=LAYER_NORM_EPS, normalize_first=self.normalize_first,
                    kernel_initializer=hf_initializer(init_std),
                    feed_forward_kwargs={"dropout": activation_dropout}, dtype=self.dtype_policy,
                    name=f"{stack}_block_{i}"))
                for i in range(num_layers)
            ])

    def _position_table_size(self, stack):
        """Rows of a stack's position table (LED: one size per stack)."""
        return self.config["max_position_embeddings"]

    def _make_block(self, stack, index, block_class, kwargs):
        """Block `index` of `stack` ("encoder" / "decoder"); the override point for other blocks (LED's encoder)."""
        return block_class(**kwargs)

    def _norm(self, name):
        return keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPS, dtype=self.dtype_policy, name=name)

    def _make_positions(self, num_positions, dim, init_std, name):
        if self.sinusoidal_positions:
            return PositionEmbedding(num_positions, dim, sinusoidal=True, dtype=self.dtype_policy, name=name)
        return PositionEmbedding(num_positions, dim, offset=self.position_offset,
                                 embeddings_initializer=hf_initializer(init_std),
                                 dtype=self.dtype_policy, name=name)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        inputs = super().dummy_inputs(batch_size, seq_len)
        if self.has_encoder:
            inputs["decoder_input_ids"] = np.ones((batch_size, seq_len), dtype="int32")
        return inputs

    # -- the two stacks -----------------------------------------------------------

    @property
    def decoder_token_embedding(self):
        """The decoder's token table (a `WordEmbedding`; also the tied LM head): `shared` unless Marian unshares it."""
        return self.shared

    def _embed(self, stack, embedded, start, training):
        x = embedded * ops.cast(self.embed_scale, embedded.dtype)
        x = x + ops.cast(getattr(self, f"{stack}_embed_positions")(x, start=start), x.dtype)
        if self.layernorm_embedding:
            x = getattr(self, f"{stack}_layernorm_embedding")(x)
        return self.dropout(x, training=training)

    def _finish_stack(self, stack, x, hidden_states):
        if self.final_layer_norms:
            x = getattr(self, f"{stack}_layer_norm")(x)
            hidden_states[-1] = x  # as the reference: the last hidden state is the normed output
        return x

    def encode(self, input_ids, attention_mask=None, training=None, output_attentions=False,
               output_hidden_states=False):
        """Runs the encoder.

        Args:
            input_ids: int tensor `(B, S)`.
            attention_mask: optional int tensor `(B, S)`, 0 on padding.

        Returns:
            dict with `last_hidden_state` `(B, S, D)` and, when asked,
            `hidden_states` (`encoder_layers + 1` tensors `(B, S, D)`) and
            `attentions` (`encoder_layers` tensors `(B, N, S, S)`).
        """
        x = self._embed("encoder", self.shared(input_ids), 0, training)  # (B, S, D)
        mask = padding_mask(attention_mask) if attention_mask is not None else None  # (B, 1, 1, S)
        x, hidden_states, attentions = run_encoder_layers(
            self.encoder_blocks, x, output_attentions=output_attentions, training=training, attention_mask=mask,
        )
        x = self._finish_stack("encoder", x, hidden_states)
        return stack_outputs({"last_hidden_state": x}, output_hidden_states, output_attentions, hidden_states,
                             attentions)

    def decode(self, decoder_input_ids, encoder_hidden_states=None, attention_mask=None,
               decoder_attention_mask=None, cache=None, cache_update_index=None, cross_key_values=None,
               training=None, output_attentions=False, output_hidden_states=False):
        """Runs the decoder over the whole target (teacher forcing) or one step with a cache.

        Args:
            decoder_input_ids: int tensor `(B, T)`.
            encoder_hidden_states: float tensor `(B, S, D)`, the encoder
                output; `None` with `cross_key_values`, or for a decoder alone
                (`BartForCausalLM`: no cross-attention).
            attention_mask: optional int tensor `(B, S)`, encoder padding.
            decoder_attention_mask: optional int tensor `(B, T)`; with a cache
                `(B, max_length)` over the cache slots.
            cache: optional tuple of per-layer caches `(B, 2, max_length, N, D / N)`.
            cache_update_index: int or scalar int tensor, position of the first query.
            cross_key_values: optional tuple of per-layer `(B, 2, S, N, D / N)`.

        Returns:
            dict with `last_hidden_state` `(B, T, D)`, `past_key_values` with
            a cache and, when asked, `hidden_states` (`decoder_layers + 1`
            tensors), `attentions` and `cross_attentions` (with an encoder).
        """
        self_mask, cross_mask, offset, _ = decoder_masks(
            decoder_input_ids, attention_mask, decoder_attention_mask, None if cache is None else cache[0],
            cache_update_index)
        y = self._embed("decoder", self.decoder_token_embedding(decoder_input_ids), offset, training)  # (B, T, D)
        y, hidden_states, attentions, cross_attentions, caches = run_decoder_layers(
            self.decoder_blocks, y, encoder_hidden_states, self_mask, cross_mask, cache=cache,
            cache_update_index=cache_update_index, cross_key_values=cross_key_values,
            output_attentions=output_attentions, training=training,
        )
        y = self._finish_stack("decoder", y, hidden_states)
        return decoder_outputs(y, hidden_states, attentions, cross_attentions, caches, output_attentions,
                               output_hidden_states)


class BartModel(BartPreTrainedModel):
    """The bare BART encoder-decoder.

    Call inputs (dict or keywords): `input_ids` `(B, S)`, `attention_mask`
    `(B, S)`, `decoder_input_ids` `(B, T)` (default: `input_ids` shifted
    right with `decoder_start_token_id`, as the reference; required in
    Marian and Pegasus),
    `decoder_attention_mask` `(B, T)`; call keywords `output_attentions`,
    `output_hidden_states`.

    Returns:
        dict with `last_hidden_state` `(B, T, D)` (the decoder's),
        `encoder_last_hidden_state` `(B, S, D)` and, when asked,
        `decoder_hidden_states`, `decoder_attentions`, `cross_attentions`,
        `encoder_hidden_states`, `encoder_attentions`.

    Raises:
        ValueError: without `decoder_input_ids` where `decoder_inputs_from_input_ids` is False.

    References: `transformers.BartModel`.
    """

    base_model_prefix = "model"
    serving_outputs = ("last_hidden_state", "encoder_last_hidden_state")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        decoder_input_ids = decoder_input_ids_from(self, inputs, from_input_ids=self.decoder_inputs_from_input_ids)
        return encode_decode(self, inputs, decoder_input_ids, training, output_attentions, output_hidden_states)


class MBartModel(BartModel):
    """mBART's encoder-decoder: pre-norm blocks, final encoder/decoder layer norms, and decoder
    inputs shifted with each row's last non-pad token as its start (`shift_tokens_right_wrapping`).

    References: `transformers.MBartModel`.
    """

    model_type = "mbart"
    normalize_first = True
    final_layer_norms = True

    def shift_right(self, ids):
        """Decoder inputs from `ids` `(B, T)`: each row starts with its last non-pad token (its language id)."""
        return shift_tokens_right_wrapping(ids, self.config["pad_token_id"])


class MarianModel(BartModel):
    """Marian's encoder-decoder: post-norm, fixed sinusoid positions, no embedding norm.

    Args:
        decoder_vocab_size: int, the target vocabulary when
            `share_encoder_decoder_embeddings=False` (default `vocab_size`).
        share_encoder_decoder_embeddings: bool; when False the encoder reads
            `shared` (the checkpoint's `encoder.embed_tokens`) and the decoder
            its own `decoder_embed_tokens`.
        **kwargs: the `BartPreTrainedModel` fields.

    References: `transformers.MarianModel`.
    """

    model_type = "marian"
    decoder_inputs_from_input_ids = False
    layernorm_embedding = False
    sinusoidal_positions = True

    def __init__(self, decoder_vocab_size=None, share_encoder_decoder_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        decoder_vocab_size = decoder_vocab_size or self.config["vocab_size"]
        self.config.update({"decoder_vocab_size": decoder_vocab_size,
                            "share_encoder_decoder_embeddings": share_encoder_decoder_embeddings})
        self.decoder_embed_tokens = None
        if not share_encoder_decoder_embeddings:
            self.decoder_embed_tokens = WordEmbedding(
                decoder_vocab_size, self.config["d_model"], embeddings_initializer=hf_initializer(
                    self.config["init_std"]), dtype=self.dtype_policy, name="decoder_embed_tokens")

    @property
    def decoder_token_embedding(self):
        return self.shared if self.decoder_embed_tokens is None else self.decoder_embed_tokens


class PegasusModel(BartModel):
    """Pegasus's encoder-decoder: pre-norm, fixed sinusoid positions, final encoder/decoder layer norms.

    References: Zhang et al., "PEGASUS: Pre-training with Extracted Gap-sentences for
    Abstractive Summarization", ICML 2020; `transformers.PegasusModel`.
    """

    model_type = "pegasus"
    decoder_inputs_from_input_ids = False
    normalize_first = True
    layernorm_embedding = False
    final_layer_norms = True
    sinusoidal_positions = True

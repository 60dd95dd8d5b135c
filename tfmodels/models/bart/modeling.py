"""The BART family's encoder-decoder backbone: BART, mBART, Marian, Pegasus, Blenderbot,
BlenderbotSmall, M2M100 and FSMT as flags of one stack.

Each stack embeds tokens with the shared table `shared` (times
`sqrt(d_model)` when `scale_embedding`), adds absolute positions
(`PositionEmbedding`: learned with offset 2 in BART/mBART, 0 in the
Blenderbots; a fixed sinusoid table in Marian/Pegasus; fairseq's sinusoid
table indexed from the token ids in M2M100/FSMT), optionally normalises
them (`layernorm_embedding`), runs its blocks (`TransformerEncoderBlock` /
`TransformerDecoderBlock`, post-norm or pre-norm) and, in pre-norm
variants, a final layer norm. Per-variant switches are class attributes:

| attribute | BART | mBART | Marian | Pegasus | Blenderbot | BlenderbotSmall | M2M100 | FSMT |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| `normalize_first` | False | True | False | True | True | False | True | False |
| `layernorm_embedding` | True | True | False | False | False | True | False | False |
| `final_layer_norms` | False | True | False | True | True | False | True | False |
| `sinusoidal_positions` | False | False | True | True | False | False | True | True |
| `position_offset` (learned) | 2 | 2 | - | - | 0 | 0 | - | - |
| `padding_offset_positions` | False | False | False | False | False | False | True | True |
| `decoder_inputs_from_input_ids` | True | True | False | False | False | False | False | True |

BlenderbotSmall's decoder normalises its token embeddings before adding
the positions (`decoder_norm_before_positions`; its encoder after), and
does not scale them (`scale_decoder_embedding=False`: the pinned
`transformers` 5 decoder computes `embed_scale` but never applies it). FSMT
stores its sinusoid tables (loaded as frozen variables:
`stored_position_tables`), has separate source and target vocabularies, and
its decoder ends in `output_projection`, so `FSMTModel`'s
`last_hidden_state` is already the `(B, T, tgt_vocab_size)` logits, as in
the reference.

Without `padding_offset_positions`, positions do not depend on padding (row
`t` is position `t`, as in the reference); a decoding step at cache index
`i` uses position `i`. With it (fairseq), padding tokens of `input_ids` /
`decoder_input_ids` read the zero row `pad_token_id` and the others count
`pad_token_id + 1, + 2, ...` over non-padding tokens only; a cached step
at index `i` numbers its tokens from `i` (`transformers`' cached formula,
FSMT's also moving padding tokens by `i`), which equals the full pass
unless a padding token was generated before; FSMT's cached steps also do
not mask generated padding tokens, as its reference.

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
from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.position.absolute import PositionEmbedding
from tfmodels.layers.position.sinusoidal import FairseqSinusoidalInitializer
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
    position_offset = 2  # rows of a learned table before position 0 (fairseq's reserved rows; LED, Blenderbot: 0)
    padding_offset_positions = False  # fairseq positions from the token ids (M2M100, FSMT)
    stored_position_tables = False  # the sinusoid tables are checkpoint variables (FSMT)
    decoder_norm_before_positions = False  # BlenderbotSmall's decoder: LN(tokens) + positions
    scale_decoder_embedding = True  # `scale_embedding` in the decoder too (BlenderbotSmall's reference: not)
    decoder_padding_from_ids = False  # FSMT: without decoder_attention_mask, pad tokens are masked
    decoder_inputs_from_input_ids = True  # BART/mBART shift `input_ids` when no decoder inputs are given
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
        self.shared = self._make_token_table(vocab_size, "shared")
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
        return LayerNormalization(epsilon=LAYER_NORM_EPS, dtype=self.dtype_policy, name=name)

    def _make_positions(self, num_positions, dim, init_std, name):
        if self.padding_offset_positions:
            pad = self.config["pad_token_id"]
            if self.stored_position_tables:  # FSMT: a frozen variable the checkpoint fills
                return PositionEmbedding(num_positions, dim, offset=pad + 1, padding_idx=pad, start_on_padding=True,
                                         embeddings_initializer=FairseqSinusoidalInitializer(pad), trainable=False,
                                         dtype=self.dtype_policy, name=name)
            return PositionEmbedding(num_positions, dim, offset=pad + 1, sinusoidal=True, padding_idx=pad,
                                     dtype=self.dtype_policy, name=name)
        if self.sinusoidal_positions:
            return PositionEmbedding(num_positions, dim, sinusoidal=True, dtype=self.dtype_policy, name=name)
        return PositionEmbedding(num_positions, dim, offset=self.position_offset,
                                 embeddings_initializer=hf_initializer(init_std), dtype=self.dtype_policy, name=name)

    def _make_token_table(self, vocab_size, name):
        return WordEmbedding(vocab_size, self.config["d_model"],
                             embeddings_initializer=hf_initializer(self.config["init_std"]),
                             dtype=self.dtype_policy, name=name)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        inputs = super().dummy_inputs(batch_size, seq_len)
        if self.has_encoder:
            inputs["decoder_input_ids"] = np.ones((batch_size, seq_len), dtype="int32")
        return inputs

    # -- the two stacks -----------------------------------------------------------

    @property
    def decoder_token_embedding(self):
        """The decoder's token table (a `WordEmbedding`; also the tied LM head): `shared`, unless the model
        has its own `decoder_embed_tokens` (Marian unshared, FSMT)."""
        table = getattr(self, "decoder_embed_tokens", None)
        return self.shared if table is None else table

    def _embed(self, stack, input_ids, embedded, start, training):
        scale = self.embed_scale if stack == "encoder" or self.scale_decoder_embedding else 1.0
        x = embedded * ops.cast(scale, embedded.dtype)
        positions = getattr(self, f"{stack}_embed_positions")(
            x, start=start, input_ids=input_ids if self.padding_offset_positions else None)
        positions = ops.cast(positions, x.dtype)
        if self.layernorm_embedding and stack == "decoder" and self.decoder_norm_before_positions:
            x = getattr(self, f"{stack}_layernorm_embedding")(x) + positions
        else:
            x = x + positions
            if self.layernorm_embedding:
                x = getattr(self, f"{stack}_layernorm_embedding")(x)
        return self.dropout(x, training=training)

    def decoder_output(self, y):
        """The decoder's last step on `(B, T, D)`: identity (FSMT projects onto its target vocabulary)."""
        return y

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
        x = self._embed("encoder", input_ids, self.shared(input_ids), 0, training)  # (B, S, D)
        return self._run_encoder(x, attention_mask, training, output_attentions, output_hidden_states)

    def _run_encoder(self, x, attention_mask, training, output_attentions, output_hidden_states):
        """The encoder blocks and final norm over embedded `x` `(B, S, D)`; `attention_mask` `(B, S)` or None."""
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
            cache: optional tuple of per-layer caches `(B, 2, N, max_length, D / N)`.
            cache_update_index: int or scalar int tensor, position of the first query.
            cross_key_values: optional tuple of per-layer `(B, 2, S, N, D / N)`.

        Returns:
            dict with `last_hidden_state` `(B, T, D)`, `past_key_values` with
            a cache and, when asked, `hidden_states` (`decoder_layers + 1`
            tensors), `attentions` and `cross_attentions` (with an encoder).
        """
        if self.decoder_padding_from_ids and decoder_attention_mask is None and cache is None:
            decoder_attention_mask = ops.not_equal(decoder_input_ids, self.config["pad_token_id"])  # FSMT
        self_mask, cross_mask, offset, _ = decoder_masks(
            decoder_input_ids, attention_mask, decoder_attention_mask, None if cache is None else cache[0],
            cache_update_index)
        y = self._embed("decoder", decoder_input_ids, self.decoder_token_embedding(decoder_input_ids), offset,
                        training)  # (B, T, D)
        y, hidden_states, attentions, cross_attentions, caches = run_decoder_layers(
            self.decoder_blocks, y, encoder_hidden_states, self_mask, cross_mask, cache=cache,
            cache_update_index=cache_update_index, cross_key_values=cross_key_values,
            output_attentions=output_attentions, training=training,
        )
        y = self.decoder_output(self._finish_stack("decoder", y, hidden_states))
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
        vocab_size = kwargs.get("vocab_size")
        if not self.has_encoder and decoder_vocab_size and vocab_size:
            # MarianForCausalLM (the reference's `MarianDecoderWrapper`): the decoder's only token table,
            # `shared` here, has `decoder_vocab_size` rows whatever the sharing flag; `vocab_size` stays the
            # config's (an untied `lm_head`'s width).
            kwargs["vocab_size"] = decoder_vocab_size
        super().__init__(**kwargs)
        if vocab_size:
            self.config["vocab_size"] = vocab_size
        decoder_vocab_size = decoder_vocab_size or self.config["vocab_size"]
        self.config.update({"decoder_vocab_size": decoder_vocab_size,
                            "share_encoder_decoder_embeddings": share_encoder_decoder_embeddings})
        self.decoder_embed_tokens = None
        if not share_encoder_decoder_embeddings and self.has_encoder:
            self.decoder_embed_tokens = self._make_token_table(decoder_vocab_size, "decoder_embed_tokens")


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


class BlenderbotModel(BartModel):
    """Blenderbot's encoder-decoder: pre-norm, final encoder/decoder layer norms, learned positions
    without offset, no embedding norm; `decoder_input_ids` are required (no shift of `input_ids`).

    References: Roller et al., "Recipes for building an open-domain chatbot", EACL 2021;
    `transformers.BlenderbotModel`.
    """

    model_type = "blenderbot"
    decoder_inputs_from_input_ids = False
    normalize_first = True
    layernorm_embedding = False
    final_layer_norms = True
    position_offset = 0


class BlenderbotSmallModel(BartModel):
    """BlenderbotSmall's encoder-decoder: post-norm, learned positions without offset, an embedding
    norm (the encoder's after adding positions, the decoder's on the token embeddings before them);
    `scale_embedding` scales the encoder's token embeddings only, as the reference.

    References: Roller et al., "Recipes for building an open-domain chatbot", EACL 2021;
    `transformers.BlenderbotSmallModel`.
    """

    model_type = "blenderbot-small"
    decoder_inputs_from_input_ids = False
    position_offset = 0
    decoder_norm_before_positions = True
    scale_decoder_embedding = False  # as the reference decoder (its `embed_scale` is unused)


class M2M100Model(BartModel):
    """M2M100's encoder-decoder: pre-norm, final encoder/decoder layer norms, fairseq sinusoid
    positions numbered from the token ids (padding skipped), not stored in checkpoints.

    References: Fan et al., "Beyond English-Centric Multilingual Machine Translation", JMLR 2021;
    `transformers.M2M100Model`.
    """

    model_type = "m2m_100"
    decoder_inputs_from_input_ids = False
    normalize_first = True
    layernorm_embedding = False
    final_layer_norms = True
    sinusoidal_positions = True
    padding_offset_positions = True


class FSMTModel(BartModel):
    """FSMT (fairseq WMT19 translation) encoder-decoder, from the `FSMTConfig` fields.

    Post-norm blocks, fairseq sinusoid positions from the token ids (the
    checkpoint stores both tables, `max_position_embeddings + pad_token_id +
    1` rows: loaded, frozen), a source table (`encoder.embed_tokens`, our
    `shared`) and a target table (`decoder.embed_tokens`), and the decoder's
    `output_projection` onto the target vocabulary: `last_hidden_state` is
    `(B, T, tgt_vocab_size)` logits, as in the reference. With
    `tie_word_embeddings` the three share one table (then `src_vocab_size`
    must equal `tgt_vocab_size`). Without `decoder_attention_mask`, padding
    tokens of `decoder_input_ids` are masked as keys (the reference's
    `make_padding_mask`); without `decoder_input_ids`, they are `input_ids`
    shifted right, each row starting with its last non-pad token.

    Args:
        langs: pair of language codes (kept in the config).
        src_vocab_size: int, source vocabulary `V_src`.
        tgt_vocab_size: int, target vocabulary `V_tgt`.
        tie_word_embeddings: bool, one table for source, target and output.
        **others: the `FSMTConfig` fields of the same names as `BartPreTrainedModel`'s.

    Raises:
        ValueError: `d_model` not divisible by a head count; `tie_word_embeddings`
            with different vocabulary sizes.

    References: Ng et al., "Facebook FAIR's WMT19 News Translation Task Submission", WMT 2019;
    `transformers.FSMTModel`.
    """

    model_type = "fsmt"
    layernorm_embedding = False
    sinusoidal_positions = True
    padding_offset_positions = True
    stored_position_tables = True
    decoder_padding_from_ids = True

    def __init__(self, langs=("en", "de"), src_vocab_size=42024, tgt_vocab_size=42024, activation_function="relu",
                 d_model=1024, max_position_embeddings=1024, encoder_ffn_dim=4096, encoder_layers=12,
                 encoder_attention_heads=16, decoder_ffn_dim=4096, decoder_layers=12, decoder_attention_heads=16,
                 attention_dropout=0.0, dropout=0.1, activation_dropout=0.0, init_std=0.02, scale_embedding=True,
                 tie_word_embeddings=False, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                 decoder_start_token_id=2, **kwargs):
        fields = {k: v for k, v in locals().items() if k not in ("self", "kwargs", "__class__")}
        if tie_word_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError("tie_word_embeddings needs src_vocab_size == tgt_vocab_size. Received: "
                             f"src_vocab_size={src_vocab_size}, tgt_vocab_size={tgt_vocab_size}")
        kwargs.pop("vocab_size", None)  # FSMTConfig's alias of tgt_vocab_size
        shared = {k: v for k, v in fields.items() if k not in ("langs", "src_vocab_size", "tgt_vocab_size",
                                                               "tie_word_embeddings")}
        super().__init__(vocab_size=src_vocab_size, **shared, **kwargs)
        self.config = {}
        self._record_config(fields)
        self.config["langs"] = list(langs)
        self.decoder_embed_tokens = self.output_projection = None
        if not tie_word_embeddings:
            self.decoder_embed_tokens = self._make_token_table(tgt_vocab_size, "decoder_embed_tokens")
            self.output_projection = keras.layers.Dense(tgt_vocab_size, use_bias=False, dtype=self.dtype_policy,
                                                        kernel_initializer=hf_initializer(init_std),
                                                        name="output_projection")

    def decoder_output(self, y):
        """`(B, T, D)` -> `(B, T, V_tgt)` logits (`output_projection`, or the tied table)."""
        if self.output_projection is None:
            return self.shared(y, reverse=True)
        return self.output_projection(y)

    def shift_right(self, ids):
        """Decoder inputs from `ids` `(B, T)`: each row starts with its last non-pad token (the reference's
        `shift_tokens_right`)."""
        return shift_tokens_right_wrapping(ids, self.config["pad_token_id"])

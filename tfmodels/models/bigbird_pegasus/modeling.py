"""BigBirdPegasus: the Pegasus encoder-decoder with BigBird block-sparse attention in the encoder.

The BART-family stack (`tfmodels.models.bart`) with: pre-norm blocks and a
final layer norm per stack (the reference calls it `layernorm_embedding`),
learned positions without offset, token embeddings scaled by
`sqrt(d_model)` (`scale_embedding`), attention projections with biases only
when `use_bias`, and encoder self-attention `BlockSparseAttention`
(`attention_type="block_sparse"`) or full attention (`"original_full"`).
The decoder is Pegasus's (full causal self-attention, cross-attention).

As the reference encoder: full attention, with a logged warning, when
`source_len <= (5 + 2 * num_random_blocks) * block_size`; otherwise the
embedded source is padded to a multiple of `block_size` with the scaled
`pad_token_id` embedding (no position term, as the reference) and the
encoder output cut back. `encoder_hidden_states` then hold the padded length
except the last, `encoder_attentions` are `(B, N, padded, padded)`.

References:
    Zaheer et al., "Big Bird: Transformers for Longer Sequences", NeurIPS 2020;
    Zhang et al., "PEGASUS", ICML 2020.
    Parity reference: `transformers.models.bigbird_pegasus.modeling_bigbird_pegasus` (PyTorch).
"""

from keras import ops

from tfmodels.layers.attention.block_sparse_attention import BlockSparseEncoderBlock
from tfmodels.layers.masks import padding_mask
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.models.bart.modeling import BartModel
from tfmodels.models.base import run_encoder_layers, stack_outputs
from tfmodels.models.big_bird.modeling import (
    ATTENTION_TYPES,
    QuietBuildMixin,
    block_sparse_for_call,
    padding_to_block_size,
)


class BigBirdPegasusModel(QuietBuildMixin, BartModel):
    """The bare BigBirdPegasus encoder-decoder.

    Args:
        attention_type: `"block_sparse"` or `"original_full"` (encoder self-attention).
        block_size: int, tokens per attention block.
        num_random_blocks: int, random key blocks per query block.
        use_bias: bool, biases in the attention projections.
        **kwargs: the BART-family fields (`d_model`, `encoder_layers`, ...; see
            `BartModel`), with BigBirdPegasus's defaults where they differ.

    Call inputs and outputs: as `BartModel` (decoder inputs default to
    `input_ids` shifted right, as the reference).

    Raises:
        ValueError: for an unknown `attention_type`; in block-sparse mode, a
            source length unknown when traced; and as `BartModel`.

    References: `transformers.BigBirdPegasusModel`.
    """

    model_type = "bigbird_pegasus"
    normalize_first = True
    layernorm_embedding = False
    final_layer_norms = True
    sinusoidal_positions = False
    position_offset = 0  # learned positions from row 0

    def __init__(self, attention_type="block_sparse", block_size=64, num_random_blocks=3, use_bias=False,
                 vocab_size=96103, max_position_embeddings=4096, encoder_layers=16, encoder_ffn_dim=4096,
                 encoder_attention_heads=16, decoder_layers=16, decoder_ffn_dim=4096, decoder_attention_heads=16,
                 activation_function="gelu_new", d_model=1024, scale_embedding=True, pad_token_id=0,
                 bos_token_id=2, eos_token_id=1, decoder_start_token_id=2, **kwargs):
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type must be one of {ATTENTION_TYPES}. "
                             f"Received: attention_type={attention_type!r}")
        sparse = dict(attention_type=attention_type, block_size=block_size, num_random_blocks=num_random_blocks,
                      use_bias=use_bias)
        super().__init__(
            vocab_size=vocab_size, max_position_embeddings=max_position_embeddings, encoder_layers=encoder_layers,
            encoder_ffn_dim=encoder_ffn_dim, encoder_attention_heads=encoder_attention_heads,
            decoder_layers=decoder_layers, decoder_ffn_dim=decoder_ffn_dim,
            decoder_attention_heads=decoder_attention_heads, activation_function=activation_function,
            d_model=d_model, scale_embedding=scale_embedding, pad_token_id=pad_token_id, bos_token_id=bos_token_id,
            eos_token_id=eos_token_id, decoder_start_token_id=decoder_start_token_id, **sparse, **kwargs)
        for name in sparse:  # read by `_make_block` from `extra_config` while the stacks are built
            self.config[name] = self.extra_config.pop(name)
        self._quiet = False

    def _make_block(self, stack, index, block_class, kwargs):
        options = self.extra_config if "use_bias" in self.extra_config else self.config
        attention = {"use_bias": options["use_bias"]}
        if stack == "encoder" and block_class is TransformerEncoderBlock:
            block_class = BlockSparseEncoderBlock
            attention.update(block_size=options["block_size"], num_random_blocks=options["num_random_blocks"],
                             seed=index, max_seq_len=self.config["max_position_embeddings"])
        return block_class(**kwargs, attention_kwargs=attention)

    def encode(self, input_ids, attention_mask=None, training=None, output_attentions=False,
               output_hidden_states=False):
        """Runs the encoder (block-sparse or full attention, see the module docstring); as `BartModel.encode`."""
        seq_len = input_ids.shape[1]
        sparse = block_sparse_for_call(self.config, seq_len, quiet=self._quiet)
        x = self._embed("encoder", input_ids, self.shared(input_ids), 0, training)  # (B, S, D)
        padding = padding_to_block_size(seq_len, self.config["block_size"]) if sparse else 0
        if padding:
            if attention_mask is None:
                attention_mask = ops.ones_like(input_ids)
            pad_ids = ops.full((ops.shape(input_ids)[0], padding), self.config["pad_token_id"], dtype="int32")
            pad_embedding = self.shared(pad_ids) * ops.cast(self.embed_scale, x.dtype)  # no position term
            x = ops.concatenate([x, ops.cast(pad_embedding, x.dtype)], axis=1)
            attention_mask = ops.pad(attention_mask, ((0, 0), (0, padding)), constant_values=0)
        mask = padding_mask(attention_mask) if attention_mask is not None else None  # (B, 1, 1, S)
        x, hidden_states, attentions = run_encoder_layers(
            self.encoder_blocks, x, output_attentions=output_attentions, training=training, attention_mask=mask,
            block_sparse=sparse,
        )
        x = self._finish_stack("encoder", x, hidden_states)
        if padding:
            x = x[:, :seq_len]
            hidden_states[-1] = x  # the reference returns `last_hidden_state` as the last one
        return stack_outputs({"last_hidden_state": x}, output_hidden_states, output_attentions, hidden_states,
                             attentions)

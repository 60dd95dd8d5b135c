"""LED (Longformer Encoder-Decoder): BART's stacks with Longformer attention in the encoder.

The encoder is BART's (post-norm blocks, `layernorm_embedding`, learned
positions, here from row 0 and sized `max_encoder_position_embeddings`)
with `LongformerEncoderBlock`s: sliding-window attention of the per-layer
`attention_window` plus global attention on the tokens of
`global_attention_mask`. As in `LongformerModel`, the source is padded
inside `encode` to a multiple of the largest window and the encoder outputs
are cut back (`encoder_global_attentions` keep the padded length, as the
reference's). The decoder is BART's, unchanged (positions from row 0, sized
`max_decoder_position_embeddings`).

References:
    Beltagy et al., "Longformer: The Long-Document Transformer", 2020 (LED, section 7).
    Parity reference: `transformers.models.led.modeling_led` (PyTorch).
"""

from keras import ops

from tfmodels.layers.attention.longformer_attention import LongformerEncoderBlock
from tfmodels.models.bart.heads import BartForConditionalGeneration
from tfmodels.models.bart.modeling import BartModel
from tfmodels.models.longformer.modeling import (
    attention_windows,
    check_max_global_tokens,
    run_longformer_layers,
    window_padding,
)


class LEDModel(BartModel):
    """The bare LED encoder-decoder.

    Args: the fields of a Hugging Face LED `config.json` (BART's, with
    `max_encoder_position_embeddings` / `max_decoder_position_embeddings`
    instead of `max_position_embeddings`, and `attention_window`: an even int
    or one per encoder layer), plus `max_global_tokens` (not a config field;
    see `LongformerModel`: the global slots, static under XLA).

    Call inputs: as `BartModel`, plus `global_attention_mask` `(B, S)` (1 =
    global attention in the encoder).

    Returns:
        as `BartModel`, plus, when asked with global tokens,
        `encoder_global_attentions` (per encoder layer `(B, N, padded_len, G)`);
        `encoder_attentions` are per layer `(B, N, S, G + attention_window + 1)`.

    Raises:
        ValueError: a bad `attention_window`, masks that are not `(B, S)`, a
            padded source longer than `max_encoder_position_embeddings`, more
            global tokens than `max_global_tokens`.

    References: `transformers.LEDModel`.
    """

    model_type = "led"
    position_offset = 0
    input_names = BartModel.input_names + ("global_attention_mask",)
    encoder_input_names = ("global_attention_mask",)

    def __init__(self, max_encoder_position_embeddings=16384, max_decoder_position_embeddings=1024,
                 attention_window=512, max_global_tokens=None, **kwargs):
        # Read while the parent builds the stacks (`_position_table_size`, `_make_block`).
        self._position_sizes = {"encoder": max_encoder_position_embeddings, "decoder": max_decoder_position_embeddings}
        self._attention_windows = tuple(attention_windows(attention_window, kwargs.get("encoder_layers", 12),
                                                          "encoder_layers"))
        self.max_global_tokens = check_max_global_tokens(max_global_tokens)
        super().__init__(**kwargs)
        self.config.pop("max_position_embeddings")  # not an LED field
        self.config.update({"max_encoder_position_embeddings": max_encoder_position_embeddings,
                            "max_decoder_position_embeddings": max_decoder_position_embeddings,
                            "attention_window": attention_window})

    def _constructor_only_config(self):
        return {**super()._constructor_only_config(), "max_global_tokens": self.max_global_tokens}

    def _position_table_size(self, stack):
        return self._position_sizes[stack]

    def _make_block(self, stack, index, block_class, kwargs):
        if stack == "encoder":
            return LongformerEncoderBlock(attention_window=self._attention_windows[index], **kwargs)
        return block_class(**kwargs)

    def encode(self, input_ids, attention_mask=None, global_attention_mask=None, training=None,
               output_attentions=False, output_hidden_states=False):
        """Runs the Longformer encoder.

        Args:
            input_ids: int tensor `(B, S)`.
            attention_mask: optional int tensor `(B, S)`, 0 on padding.
            global_attention_mask: optional int tensor `(B, S)`, 1 = global attention.

        Returns:
            dict with `last_hidden_state` `(B, S, D)` and, when asked,
            `hidden_states`, `attentions` and (with global tokens) `global_attentions`.
        """
        padded, token, is_global = window_padding(type(self).__name__, input_ids, attention_mask,
                                                  global_attention_mask, max(self._attention_windows))
        ids = padded(input_ids, self.config["pad_token_id"])
        limit = self._position_sizes["encoder"]
        if ids.shape[1] is not None and ids.shape[1] > limit:
            raise ValueError(
                f"{type(self).__name__} accepts sources of at most max_encoder_position_embeddings={limit} tokens "
                f"after padding to a multiple of attention_window={max(self._attention_windows)}. Received: source "
                f"length {input_ids.shape[1]} (padded {ids.shape[1]}).")
        x = self._embed("encoder", ids, self.shared(ids), 0, training)  # (B, padded_len, D)
        outputs, _ = run_longformer_layers(self, self.encoder_blocks, x, token, is_global, ops.shape(input_ids)[1],
                                           training, output_attentions, output_hidden_states)
        return outputs


class LEDForConditionalGeneration(BartForConditionalGeneration):
    """LED with its LM head (tied to `shared`) plus `final_logits_bias`; `generate()`.

    Call inputs and outputs: as `BartForConditionalGeneration`, plus the
    `global_attention_mask` input and the `encoder_global_attentions` output
    of `LEDModel`. `generate(input_ids, attention_mask, global_attention_mask=...)`
    runs the encoder with that global attention (inside the compiled loop the
    global slots are `max_global_tokens`, or the padded source length when it
    is not set).

    References: `transformers.LEDForConditionalGeneration`.
    """

    model_type = "led"
    base_model_prefix = "led"
    backbone_class = LEDModel
    input_names = LEDModel.input_names
    _merged_generation_mask = False  # True while generate() hands `encode` the 0 / 1 / 2 mask

    def generate(self, input_ids, attention_mask=None, global_attention_mask=None, **kwargs):
        """`BartForConditionalGeneration.generate`, plus `global_attention_mask` `(B, S)` for the encoder.

        The global tokens travel inside the source mask in the reference's merged
        form (`attention_mask * (global_attention_mask + 1)`: 0 padding, 1 local,
        2 global); the decoder's cross-attention reads it as "nonzero = attend".

        Raises:
            ValueError: as `BartForConditionalGeneration.generate`, or a
                `global_attention_mask` of another shape than `input_ids`.
        """
        if global_attention_mask is None:
            return super().generate(input_ids, attention_mask=attention_mask, **kwargs)
        input_ids = ops.convert_to_tensor(input_ids)
        mask = ops.ones_like(input_ids, "int32") if attention_mask is None else ops.cast(attention_mask, "int32")
        glob = ops.cast(ops.not_equal(ops.convert_to_tensor(global_attention_mask), 0), "int32")
        if tuple(glob.shape) != tuple(input_ids.shape):
            raise ValueError(f"global_attention_mask must match input_ids. Received shapes {tuple(glob.shape)} and "
                             f"{tuple(input_ids.shape)}.")
        self._merged_generation_mask = True
        try:
            return super().generate(input_ids, attention_mask=mask * (glob + 1), **kwargs)
        finally:
            self._merged_generation_mask = False

    def _generation_function(self, settings, vocab_size):
        # A loop traced with the merged mask is another program than one without.
        return super()._generation_function({**settings, "merged_mask": self._merged_generation_mask}, vocab_size)

    def encode(self, input_ids, attention_mask=None, **kwargs):
        if self._merged_generation_mask and "global_attention_mask" not in kwargs:
            kwargs["global_attention_mask"] = ops.cast(ops.equal(attention_mask, 2), "int32")
        return super().encode(input_ids, attention_mask, **kwargs)

"""Speech2Text: a convolutional subsampler over log-mel filter banks, then a pre-norm Transformer
encoder-decoder (the BART-family stack with M2M100's flags).

    input_features (B, T, F) -> Conv1dSubsampler (stride 2 per layer, GLU) (B, S, D) * sqrt(D)
    -> + fairseq sinusoid positions (numbered over the real frames, zero on padded ones)
    -> pre-norm encoder blocks -> LayerNorm                       encoder_last_hidden_state (B, S, D)
    decoder_input_ids (B, L) -> tokens * sqrt(D) + fairseq positions -> pre-norm decoder blocks
    (cross-attention over the encoder, masked by the subsampled frame mask) -> LayerNorm
    -> tied LM head                                                logits (B, L, V)

The frame `attention_mask (B, T)` is reduced to the subsampled frames as the reference does
(`_get_feat_extract_output_lengths`: `(n - 1) // 2 + 1` per layer; the first that many are
real, a row with none attends to every frame). The encoder numbers its positions from the
mask, read as token ids: padded frames are "id" 1 and real ones 0, positions skipping the ids
equal to `pad_token_id` (the reference's `embed_positions(padding_mask)`).

Size glossary: B batch, T input frames, F `input_feat_per_channel * input_channels`, S
subsampled frames, L target length, D `d_model`, V `vocab_size`.

References:
    Wang et al., "fairseq S2T: Fast Speech-to-Text Modeling with fairseq", AACL 2020.
    Parity reference: `transformers.models.speech_to_text.modeling_speech_to_text` (PyTorch).
"""

import numpy as np
from keras import ops

from tfmodels.layers.audio import Conv1dSubsampler, lengths_mask
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.bart.heads import BartForConditionalGeneration
from tfmodels.models.bart.modeling import BartModel
from tfmodels.models.base import to_float_tensor
from tfmodels.models.seq2seq import decoder_input_ids_from, encode_decode

FEATURES_HINT = ("log-mel filter-bank frames, float32", "Compute them from 16 kHz audio with "
                 "`tfmodels.processors.Speech2TextFeatureExtractor.from_pretrained(path)(audio, padding=True)`.")
INPUT_NAMES = ("input_features", "attention_mask", "decoder_input_ids", "decoder_attention_mask")


class Speech2TextModel(BartModel):
    """The bare Speech2Text encoder-decoder, from the `Speech2TextConfig` fields.

    Args: the fields of a Hugging Face Speech2Text `config.json`: `vocab_size`, `d_model`,
    `encoder_layers`, `decoder_layers`, `encoder_attention_heads`, `decoder_attention_heads`,
    `encoder_ffn_dim`, `decoder_ffn_dim`, `activation_function`, `dropout`,
    `attention_dropout`, `activation_dropout`, `init_std`, `scale_embedding`,
    `max_source_positions` (subsampled frames), `max_target_positions`, `num_conv_layers`,
    `conv_kernel_sizes`, `conv_channels`, `input_feat_per_channel`, `input_channels`, the
    special token ids. Other fields (`encoder_layerdrop`, `decoder_layerdrop`, `use_cache`,
    ...) are kept in `extra_config`; LayerDrop is not applied in training.

    Call inputs:
        input_features: float32 `(B, T, F)` filter-bank frames.
        attention_mask: optional 0/1 `(B, T)`, 1 on real frames (right padding).
        decoder_input_ids: int `(B, L)` (required: nothing is shifted from the source).
        decoder_attention_mask: optional 0/1 `(B, L)`.
    Call options: `output_hidden_states`, `output_attentions`.

    Returns:
        dict with `last_hidden_state` `(B, L, D)` (the decoder's), `encoder_last_hidden_state`
        `(B, S, D)` and, when asked, `decoder_hidden_states`, `decoder_attentions`,
        `cross_attentions` `(B, N, L, S)`, `encoder_hidden_states`, `encoder_attentions`.

    Raises:
        TypeError: integer `input_features`.
        ValueError: `input_features` not `(B, T, F)` with `F = input_feat_per_channel *
            input_channels`, an `attention_mask` of another shape than `(B, T)`, no
            `decoder_input_ids`, `len(conv_kernel_sizes) != num_conv_layers`, odd `conv_channels`.

    References: `transformers.Speech2TextModel`.
    """

    model_type = "speech_to_text"
    main_input_name = "input_features"
    float_input_names = ("input_features",)
    float_input_hint = FEATURES_HINT
    input_names = INPUT_NAMES
    normalize_first = True
    layernorm_embedding = False
    final_layer_norms = True
    sinusoidal_positions = True
    padding_offset_positions = True
    decoder_inputs_from_input_ids = False

    def __init__(self, vocab_size=10000, encoder_layers=12, encoder_ffn_dim=2048, encoder_attention_heads=4,
                 decoder_layers=6, decoder_ffn_dim=2048, decoder_attention_heads=4, activation_function="relu",
                 d_model=256, dropout=0.1, attention_dropout=0.0, activation_dropout=0.0, init_std=0.02,
                 decoder_start_token_id=2, scale_embedding=True, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                 max_source_positions=6000, max_target_positions=1024, num_conv_layers=2, conv_kernel_sizes=(5, 5),
                 conv_channels=1024, input_feat_per_channel=80, input_channels=1, **kwargs):
        if len(conv_kernel_sizes) != num_conv_layers:
            raise ValueError("conv_kernel_sizes needs one entry per convolution layer. Received: "
                             f"conv_kernel_sizes={list(conv_kernel_sizes)}, num_conv_layers={num_conv_layers}")
        # Read while the parent builds the stacks (`_position_table_size`).
        self._position_sizes = {"encoder": max_source_positions, "decoder": max_target_positions}
        super().__init__(
            vocab_size=vocab_size, max_position_embeddings=max_target_positions, encoder_layers=encoder_layers,
            encoder_ffn_dim=encoder_ffn_dim, encoder_attention_heads=encoder_attention_heads,
            decoder_layers=decoder_layers, decoder_ffn_dim=decoder_ffn_dim,
            decoder_attention_heads=decoder_attention_heads, activation_function=activation_function,
            d_model=d_model, dropout=dropout, attention_dropout=attention_dropout,
            activation_dropout=activation_dropout, init_std=init_std, scale_embedding=scale_embedding,
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
            decoder_start_token_id=decoder_start_token_id, **kwargs)
        self.config.pop("max_position_embeddings")  # not a Speech2Text field
        self.config.update({
            "max_source_positions": max_source_positions, "max_target_positions": max_target_positions,
            "num_conv_layers": num_conv_layers, "conv_kernel_sizes": [int(k) for k in conv_kernel_sizes],
            "conv_channels": conv_channels, "input_feat_per_channel": input_feat_per_channel,
            "input_channels": input_channels,
        })
        self.num_features = input_feat_per_channel * input_channels
        self.conv = Conv1dSubsampler(conv_channels, d_model, conv_kernel_sizes,
                                     kernel_initializer=hf_initializer(init_std), dtype=self.dtype_policy,
                                     name="conv")

    def _position_table_size(self, stack):
        return self._position_sizes[stack]

    @property
    def serving_float_shapes(self):
        """SavedModel input shapes of the float inputs: any batch and number of frames."""
        return {"input_features": [None, None, self.num_features]}

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return {"input_features": np.zeros((batch_size, 2 * seq_len, self.num_features), dtype="float32"),
                "decoder_input_ids": np.ones((batch_size, seq_len), dtype="int32")}

    def feature_vector_attention_mask(self, attention_mask, num_frames):
        """The frame mask `(B, T)` -> int32 `(B, S)` over the subsampled frames (`_get_feature_vector_attention_mask`).

        The first `(n - 1) // 2 + 1` (per layer) of `S = num_frames` are 1, `n` the real frames of a row;
        a row without real frames gets all ones, as in the reference.
        """
        lengths = self.conv.output_lengths(ops.sum(ops.cast(attention_mask, "int32"), axis=-1))  # (B,)
        return ops.cast(lengths_mask(lengths, num_frames, empty_rows_attend=True), "int32")

    def check_features(self, input_features, attention_mask=None):
        """Raises `ValueError` unless `input_features` is `(B, T, F)` and `attention_mask` `(B, T)`."""
        shape = tuple(input_features.shape)
        if len(shape) != 3 or (shape[-1] is not None and shape[-1] != self.num_features):
            raise ValueError(
                f"{type(self).__name__} takes `input_features` of shape (batch, frames, {self.num_features}) "
                f"(input_feat_per_channel * input_channels). Received: shape {shape}")
        if attention_mask is not None and tuple(attention_mask.shape) != shape[:2]:
            raise ValueError(f"attention_mask must be (batch, frames) = {shape[:2]}, one flag per input frame. "
                             f"Received: shape {tuple(attention_mask.shape)}")

    def encode(self, input_features, attention_mask=None, training=None, output_attentions=False,
               output_hidden_states=False):
        """Runs the subsampler and the encoder.

        Args:
            input_features: float tensor `(B, T, F)`.
            attention_mask: optional 0/1 tensor `(B, T)`, the input frames' mask.

        Returns:
            dict with `last_hidden_state` `(B, S, D)` and, when asked, `hidden_states`
            (`encoder_layers + 1` tensors `(B, S, D)`) and `attentions` (`(B, N, S, S)` per layer).
        """
        input_features = to_float_tensor(input_features, "input_features", FEATURES_HINT)
        self.check_features(input_features, attention_mask)
        x = self.conv(ops.cast(input_features, self.compute_dtype))  # (B, S, D)
        mask = None
        if attention_mask is not None:
            mask = self.feature_vector_attention_mask(attention_mask, ops.shape(x)[1])  # (B, S)
            frame_ids = 1 - mask  # the reference's `padding_mask`, read as token ids by its positions
        else:
            frame_ids = ops.zeros(ops.shape(x)[:2], "int32")
        x = self._embed("encoder", frame_ids, x, 0, training)
        return self._run_encoder(x, mask, training, output_attentions, output_hidden_states)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        decoder_input_ids = decoder_input_ids_from(self, inputs)
        return encode_decode(self, inputs, decoder_input_ids, training, output_attentions, output_hidden_states)


class Speech2TextForConditionalGeneration(BartForConditionalGeneration):
    """Speech2Text with its LM head (tied to the decoder's token table unless
    `tie_word_embeddings=False`); `generate()` from `input_features`.

    Call inputs: as `Speech2TextModel`, plus `labels` `(B, L)` (`-100` ignored): without
    `decoder_input_ids` they are `labels` shifted right with `decoder_start_token_id`.

    Returns:
        dict with `logits` `(B, L, V)`, `loss` (mean cross-entropy over the labels that are not
        -100) with `labels`, `encoder_last_hidden_state` and, when asked, the hidden states and
        attentions of `Speech2TextModel`.

    `generate(input_features, attention_mask=None, **options)`: `GenerationMixin.generate`'s
    options (greedy, sampling, beams); the encoder runs once, the cross-attention reads the
    subsampled frame mask. Returns int32 `(B * num_return_sequences, 1 + generated)`.

    Training: `compile()` without a loss trains on the LM loss of `labels`.

    References: `transformers.Speech2TextForConditionalGeneration`.
    """

    model_type = "speech_to_text"
    backbone_class = Speech2TextModel
    main_input_name = "input_features"
    float_input_names = ("input_features",)
    float_input_hint = FEATURES_HINT
    input_names = INPUT_NAMES
    has_final_logits_bias = False

    @property
    def serving_float_shapes(self):
        return self.backbone.serving_float_shapes

    def generate(self, input_features=None, attention_mask=None, **options):
        """`Seq2SeqGenerationMixin.generate` from `input_features` `(B, T, F)` and their frame mask `(B, T)`.

        Raises:
            TypeError: integer `input_features`.
            ValueError: features or mask of the wrong shape, or invalid options.
        """
        if input_features is None:
            raise ValueError(f"{type(self).__name__}.generate() needs `input_features` (batch, frames, features).")
        return super().generate(input_features, attention_mask=attention_mask, **options)

    def _generation_inputs(self, input_features, attention_mask):
        """Float32 `input_features (B, T, F)` and the int32 frame mask `(B, T)` (all ones if `None`)."""
        features = ops.cast(to_float_tensor(input_features, "input_features", FEATURES_HINT), "float32")
        if attention_mask is None:
            attention_mask = ops.ones(tuple(features.shape[:2]), "int32")
        attention_mask = ops.cast(ops.convert_to_tensor(attention_mask), "int32")
        self.backbone.check_features(features, attention_mask)
        return features, attention_mask

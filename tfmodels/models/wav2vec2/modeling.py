"""wav2vec 2.0: a convolutional feature encoder over raw audio, then a Transformer encoder.

    input_values (batch, samples)
    -> ConvFeatureEncoder (strided 1-D convolutions)          (batch, frames, conv_dim[-1])
    -> LayerNorm = extract_features -> Dense (+ mask_time_indices -> masked_spec_embed)
    -> zero padded frames -> + PositionalConvEmbedding (weight-normalised grouped conv)
    -> post-norm blocks after a LayerNorm (base), or pre-norm blocks then a LayerNorm
       (`do_stable_layer_norm`: large / XLSR)                  -> last_hidden_state (batch, frames, hidden)

The task heads (CTC, sequence classification, pre-training) are in `heads.py`.

References:
    Baevski et al., "wav2vec 2.0: A Framework for Self-Supervised Learning of
    Speech Representations", NeurIPS 2020. Parity reference:
    `transformers.models.wav2vec2.modeling_wav2vec2` (PyTorch).
"""

import keras
import numpy as np
from keras import ops

from tfmodels.layers import LayerNormalization, TransformerEncoderBlock
from tfmodels.layers.audio import ConvFeatureEncoder, PositionalConvEmbedding, frame_mask, span_mask
from tfmodels.layers.layer_drop import LayerDrop
from tfmodels.layers.utils import hf_initializer
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.models.base import PreTrainedModel, stack_outputs

AUDIO_INPUT_HINT = ("raw waveform samples, float32", "Load the audio as float32 samples in [-1, 1] and prepare it "
                    "with `tfmodels.processors.Wav2Vec2FeatureExtractor.from_pretrained(path)(audio)`, or convert "
                    "int16 PCM with `np.asarray(x, dtype='float32') / 32768`.")


class AudioModelMixin:
    """Input handling shared by the speech models: float `input_values (batch, samples)`."""

    main_input_name = "input_values"
    float_input_names = ("input_values",)
    float_input_hint = AUDIO_INPUT_HINT
    serving_dynamic_float_inputs = True  # exported with a dynamic number of samples

    def _audio_config(self):
        model = self.backbone if hasattr(self, "backbone") else self
        return model.config

    def receptive_field(self, frames=1):
        """The fewest samples that give `frames` feature frames."""
        config = self._audio_config()
        samples = frames
        for kernel, stride in reversed(list(zip(config["conv_kernel"], config["conv_stride"]))):
            samples = (samples - 1) * stride + kernel
        return samples

    def dummy_inputs(self, batch_size=1, seq_len=None):
        """Zero `input_values` long enough for two feature frames."""
        return {"input_values": np.zeros((batch_size, self.receptive_field(2)), dtype="float32")}

    def _check_audio(self, inputs):
        values = inputs["input_values"]
        if len(values.shape) != 2:
            raise ValueError(f"{type(self).__name__} takes `input_values` of shape (batch, samples) (mono audio). "
                             f"Received: shape {tuple(values.shape)}")
        samples = values.shape[1]
        if samples is not None and samples < self.receptive_field():
            raise ValueError(f"`input_values` has {samples} samples per example, fewer than the feature encoder's "
                             f"receptive field ({self.receptive_field()}); pad the audio.")


class Wav2Vec2Model(AudioModelMixin, PreTrainedModel):
    """The wav2vec 2.0 backbone: feature encoder, feature projection, convolutional positions, Transformer encoder.

    Args: the fields of a Hugging Face Wav2Vec2 `config.json` (`hidden_size`,
    `num_hidden_layers`, `num_attention_heads`, `intermediate_size`,
    `hidden_act`, `hidden_dropout`, `activation_dropout`, `attention_dropout`,
    `feat_proj_dropout`, `layerdrop`, `layer_norm_eps`, `feat_extract_norm`
    (`"group"` / `"layer"`), `feat_extract_activation`, `conv_dim`,
    `conv_kernel`, `conv_stride`, `conv_bias`, `num_conv_pos_embeddings`,
    `num_conv_pos_embedding_groups`, `do_stable_layer_norm`,
    `apply_spec_augment`, `mask_time_prob`, `mask_feature_prob`, ...). Fields
    of the heads and of the training-time masking live in `extra_config`.

    Call inputs:
        input_values: float32 `(batch, samples)`, the (normalised) waveform.
        attention_mask: optional 0/1 `(batch, samples)`, 1 = real sample
            (right padding); reduced to frames with `conv_output_lengths`.
        mask_time_indices: optional bool `(batch, frames)`: frames whose
            projected features are replaced by the learned `masked_spec_embed`
            (needs `mask_time_prob > 0` or `mask_feature_prob > 0`, and is ignored
            with `apply_spec_augment=False`, as the reference).
    Call options: `output_hidden_states`, `output_attentions`.

    Returns: dict with `last_hidden_state (batch, frames, hidden_size)`,
    `extract_features (batch, frames, conv_dim[-1])` (the normalised encoder
    features), and when asked `hidden_states` (the input of every block and
    the last block's output, before the final LayerNorm of the stable variant)
    and `attentions` `(batch, heads, frames, frames)` per block.

    Raises:
        TypeError: integer `input_values`.
        ValueError: `input_values` not `(batch, samples)` or shorter than the
            receptive field; `mask_time_indices` without `masked_spec_embed`;
            adapters (`add_adapter`, `adapter_attn_dim`), which tfmodels does not implement.

    In training without `mask_time_indices`, SpecAugment masks random time
    spans (`mask_time_prob`, `mask_time_length`, `mask_time_min_masks`) and
    feature spans (`mask_feature_*`) by the reference's rule with TensorFlow's
    random draws (`tfmodels.layers.audio.span_mask`).

    References: `transformers.Wav2Vec2Model`.
    """

    model_type = "wav2vec2"
    input_names = ("input_values", "attention_mask", "mask_time_indices")
    serving_outputs = ("last_hidden_state", "extract_features")

    def __init__(
        self,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout=0.1,
        activation_dropout=0.1,
        attention_dropout=0.1,
        feat_proj_dropout=0.0,
        layerdrop=0.1,
        initializer_range=0.02,
        layer_norm_eps=1e-5,
        feat_extract_norm="group",
        feat_extract_activation="gelu",
        conv_dim=(512, 512, 512, 512, 512, 512, 512),
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_bias=False,
        num_conv_pos_embeddings=128,
        num_conv_pos_embedding_groups=16,
        do_stable_layer_norm=False,
        apply_spec_augment=True,
        mask_time_prob=0.05,
        mask_feature_prob=0.0,
        add_adapter=False,
        adapter_attn_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        if add_adapter or adapter_attn_dim is not None:
            raise ValueError("tfmodels does not implement Wav2Vec2 adapters. Received: "
                             f"add_adapter={add_adapter}, adapter_attn_dim={adapter_attn_dim}")
        if hidden_size % num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads. Received: "
                             f"hidden_size={hidden_size}, num_attention_heads={num_attention_heads}")
        init = hf_initializer(initializer_range)
        self.feature_encoder = ConvFeatureEncoder(
            conv_dim, conv_kernel, conv_stride, conv_bias=conv_bias, feat_extract_norm=feat_extract_norm,
            feat_extract_activation=feat_extract_activation, dtype=self.dtype_policy, name="feature_encoder",
        )
        self.feature_layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy,
                                                     name="feature_layer_norm")
        self.feature_projection = keras.layers.Dense(hidden_size, dtype=self.dtype_policy, name="feature_projection")
        self.feature_dropout = keras.layers.Dropout(feat_proj_dropout, dtype=self.dtype_policy)
        self.has_masked_spec_embed = mask_time_prob > 0 or mask_feature_prob > 0
        if self.has_masked_spec_embed:
            self.masked_spec_embed = self.add_weight(name="masked_spec_embed", shape=(hidden_size,),
                                                     initializer="uniform")
        self.pos_conv_embed = PositionalConvEmbedding(
            hidden_size, num_conv_pos_embeddings, num_conv_pos_embedding_groups, activation=feat_extract_activation,
            dtype=self.dtype_policy, name="pos_conv_embed",
        )
        self.encoder_layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy,
                                                     name="encoder_layer_norm")
        self.encoder_dropout = keras.layers.Dropout(hidden_dropout, dtype=self.dtype_policy)
        self.encoder_layers = [
            TransformerEncoderBlock(
                num_attention_heads, intermediate_size, hidden_act=hidden_act, hidden_dropout=hidden_dropout,
                attention_dropout=attention_dropout, layer_norm_eps=layer_norm_eps,
                normalize_first=do_stable_layer_norm, kernel_initializer=init,
                feed_forward_kwargs={"dropout": activation_dropout}, dtype=self.dtype_policy, name=f"encoder_layer_{i}",
            )
            for i in range(num_hidden_layers)
        ]
        self.layer_drop = LayerDrop(layerdrop, dtype=self.dtype_policy, name="layer_drop")
        self.spec_augment_seed = keras.random.SeedGenerator(None)

    def feature_lengths(self, lengths):
        """Frames the feature encoder makes from `lengths` samples (`_get_feat_extract_output_lengths`)."""
        return self.feature_encoder.output_lengths(lengths)

    def frame_mask(self, attention_mask, num_frames):
        """Boolean `(batch, frames)` mask of the frames made from real samples."""
        config = self.config
        return frame_mask(attention_mask, num_frames, config["conv_kernel"], config["conv_stride"])

    def _mask_hidden_states(self, x, mask_time_indices, mask, training):
        """SpecAugment: `masked_spec_embed` on the given (or, in training, random) time spans, zeros on
        random feature spans in training (`_mask_hidden_states` in the reference)."""
        config = self.config
        frames = x.shape[1] if x.shape[1] is not None else ops.shape(x)[1]
        if mask_time_indices is None and training and config["mask_time_prob"] > 0:
            lengths = ops.full((ops.shape(x)[0],), frames, "int32") if mask is None else \
                ops.sum(ops.cast(mask, "int32"), axis=-1)
            extra = self.extra_config
            mask_time_indices = span_mask(lengths, frames, config["mask_time_prob"], extra.get("mask_time_length", 10),
                                          extra.get("mask_time_min_masks", 2), seed=self.spec_augment_seed)
        if mask_time_indices is not None:
            if not self.has_masked_spec_embed:
                raise ValueError("`mask_time_indices` needs the learned `masked_spec_embed`, which the model has "
                                 "only with mask_time_prob > 0 or mask_feature_prob > 0.")
            embed = ops.cast(self.masked_spec_embed, x.dtype)
            x = ops.where(ops.cast(mask_time_indices, "bool")[:, :, None], embed, x)
        if training and config["mask_feature_prob"] > 0:
            extra, hidden = self.extra_config, config["hidden_size"]
            lengths = ops.full((ops.shape(x)[0],), hidden, "int32")
            features = span_mask(lengths, hidden, config["mask_feature_prob"], extra.get("mask_feature_length", 10),
                                 extra.get("mask_feature_min_masks", 0), seed=self.spec_augment_seed)
            x = ops.where(features[:, None, :], ops.zeros_like(x), x)
        return x

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        self._check_audio(inputs)
        config = self.config
        features = self.feature_encoder(inputs["input_values"])  # (batch, frames, conv_dim[-1])
        extract_features = self.feature_layer_norm(features)
        x = self.feature_dropout(self.feature_projection(extract_features), training=training)
        mask = None
        if inputs.get("attention_mask") is not None:
            mask = self.frame_mask(inputs["attention_mask"], ops.shape(x)[1])  # (batch, frames)
        if config["apply_spec_augment"]:
            x = self._mask_hidden_states(x, inputs.get("mask_time_indices"), mask, training)
        if mask is not None:
            x = x * ops.cast(mask, x.dtype)[:, :, None]
        x = x + self.pos_conv_embed(x)
        if not config["do_stable_layer_norm"]:
            x = self.encoder_layer_norm(x)
        x = self.encoder_dropout(x, training=training)
        stack = run_block_stack(self.encoder_layers, x, call_kwargs={"attention_mask": mask},
                                output_attentions=output_attentions, training=training, layer_drop=self.layer_drop)
        x = stack.x
        if config["do_stable_layer_norm"]:
            x = self.encoder_layer_norm(x)
        outputs = {"last_hidden_state": x, "extract_features": extract_features}
        return stack_outputs(outputs, output_hidden_states, output_attentions, stack.hidden_states, stack.attentions)

"""ViT: a pre-norm Transformer encoder over image patches, and its heads.

    pixel_values -> ImageEmbeddings ([CLS] + patches + positions) -> pre-norm blocks
    -> LayerNorm -> last_hidden_state (-> tanh pooler on [CLS])

DeiT (`tfmodels.models.deit`) is the same backbone with a distillation token.

References:
    Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
    Recognition at Scale", 2021. Xie et al., "SimMIM", 2022 (masked image
    modelling head). Parity reference: `transformers.models.vit.modeling_vit` (PyTorch).
"""

import keras
import numpy as np
from keras import ops

from tfmodels.layers import LayerNormalization, Pooler, TransformerEncoderBlock
from tfmodels.layers.image_embeddings import ImageEmbeddings, check_data_format
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, run_encoder_layers, stack_outputs
from tfmodels.models.heads import HeadModelMixin, ImageClassificationMixin

IMAGE_INPUTS = ("pixel_values",)


class VisionModelMixin:
    """Input handling shared by the image models: float `pixel_values` `(batch, channels, height, width)`."""

    main_input_name = "pixel_values"
    float_input_names = ("pixel_values",)

    def _image_shape(self):
        model = self.backbone if "image_size" not in self.config and hasattr(self, "backbone") else self
        config = {**model.extra_config, **model.config}
        size = config["image_size"]
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        return config.get("num_channels", 3), height, width

    def dummy_inputs(self, batch_size=1, seq_len=None):
        """Zero `pixel_values` of the configured image size, in the model's `data_format`."""
        channels, height, width = self._image_shape()
        shape = (batch_size, channels, height, width)
        if getattr(self, "data_format", "channels_first") == "channels_last":
            shape = (batch_size, height, width, channels)
        return {"pixel_values": np.zeros(shape, dtype="float32")}


class ViTModel(VisionModelMixin, PreTrainedModel):
    """The ViT encoder: patch + position embeddings, `num_hidden_layers` pre-norm blocks, final LayerNorm.

    Args: the fields of a Hugging Face ViT `config.json` (`hidden_size`,
    `num_hidden_layers`, `num_attention_heads`, `intermediate_size`,
    `hidden_act`, `hidden_dropout_prob`, `attention_probs_dropout_prob`,
    `layer_norm_eps`, `image_size`, `patch_size`, `num_channels`, `qkv_bias`,
    `encoder_stride`, `pooler_output_size`, `pooler_act`, ...), plus:
        add_pooling_layer: bool, the `pooler` (dense + `pooler_act` on [CLS]).
        use_mask_token: bool, a learned mask token for `bool_masked_pos`.
        data_format: `"channels_first"` (default, Hugging Face's layout) or
            `"channels_last"` for `pixel_values`.

    Call inputs:
        pixel_values: float `(batch, num_channels, image_size, image_size)`
            (channels last with `data_format="channels_last"`); integer pixels
            are refused (preprocess with `tfmodels.processors.ImageProcessor`).
        bool_masked_pos: optional bool/int `(batch, num_patches)` (needs `use_mask_token`).
    Call options: `interpolate_pos_encoding=True` to run at another
    resolution (bicubic resize of the position grid, as the reference);
    `output_hidden_states`, `output_attentions`.

    Returns: dict with `last_hidden_state (batch, 1 + num_patches, hidden_size)`,
    `pooler_output (batch, pooler_output_size)` (with the pooler), and when
    asked `hidden_states` (embeddings + every block's output, before the final
    LayerNorm) and `attentions` `(batch, heads, seq, seq)` per block.

    Raises:
        TypeError: integer `pixel_values`.
        ValueError: wrong channel count or rank, or an image size other than
            `image_size` without `interpolate_pos_encoding=True`.

    References: `transformers.ViTModel`.
    """

    model_type = "vit"
    input_names = ("pixel_values", "bool_masked_pos")
    serving_outputs = ("last_hidden_state", "pooler_output")
    distillation_token = False  # DeiT: True

    def __init__(
        self,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        image_size=224,
        patch_size=16,
        num_channels=3,
        qkv_bias=True,
        encoder_stride=16,
        pooler_output_size=None,
        pooler_act="tanh",
        add_pooling_layer=True,
        use_mask_token=False,
        data_format="channels_first",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals(), exclude=("add_pooling_layer", "use_mask_token", "data_format"))
        if hidden_size % num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads. Received: "
                             f"hidden_size={hidden_size}, num_attention_heads={num_attention_heads}")
        self.add_pooling_layer = add_pooling_layer
        self.use_mask_token = use_mask_token
        self.data_format = check_data_format(data_format)
        init = hf_initializer(initializer_range)
        self.embeddings = ImageEmbeddings(
            hidden_size, image_size, patch_size, num_channels=num_channels,
            distillation_token=self.distillation_token, use_mask_token=use_mask_token,
            dropout=hidden_dropout_prob, data_format=data_format, initializer_range=initializer_range,
            dtype=self.dtype_policy, name="embeddings",
        )
        self.encoder_layers = [
            TransformerEncoderBlock(
                num_attention_heads, intermediate_size, hidden_act=hidden_act, hidden_dropout=hidden_dropout_prob,
                attention_dropout=attention_probs_dropout_prob, layer_norm_eps=layer_norm_eps, normalize_first=True,
                kernel_initializer=init, attention_kwargs={"use_bias": qkv_bias, "output_use_bias": True},
                dtype=self.dtype_policy, name=f"encoder_layer_{i}",
            )
            for i in range(num_hidden_layers)
        ]
        self.layernorm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layernorm")
        self.pooler = None
        if add_pooling_layer:
            self.pooler = Pooler(pooler_output_size or hidden_size, activation=pooler_act, kernel_initializer=init,
                                 dtype=self.dtype_policy, name="pooler")

    def _constructor_only_config(self):
        return {"add_pooling_layer": self.add_pooling_layer, "use_mask_token": self.use_mask_token,
                "data_format": self.data_format}

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             interpolate_pos_encoding=False):
        inputs = self._prepare_inputs(inputs)
        x = self.embeddings(inputs["pixel_values"], bool_masked_pos=inputs.get("bool_masked_pos"),
                            interpolate_pos_encoding=interpolate_pos_encoding, training=training)
        x, hidden_states, attentions = run_encoder_layers(self.encoder_layers, x, output_attentions, training)
        x = self.layernorm(x)
        outputs = {"last_hidden_state": x}
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(x)
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions)


class ViTPreTrainedModel(VisionModelMixin, PreTrainedModel):
    model_type = "vit"
    base_model_prefix = "vit"
    backbone_class = ViTModel
    input_names = IMAGE_INPUTS

    @property
    def data_format(self):
        return self.backbone.data_format


class ViTForImageClassification(ImageClassificationMixin, ViTPreTrainedModel):
    """ViT + a linear classifier on the final [CLS] state: `logits (batch, num_labels)`.

    Labels: `labels (batch,)` int (cross-entropy), float `(batch,)` for
    regression or `(batch, num_labels)` multi-label, by `problem_type`.
    `interpolate_pos_encoding=True` passes to the backbone.

    References: `transformers.ViTForImageClassification`.
    """


class MaskedImageModelingMixin(HeadModelMixin):
    """SimMIM head: a 1x1 convolution to `encoder_stride^2 * num_channels` features per patch, then
    a pixel shuffle back to `(batch, num_channels, height, width)`; masked L1 loss when
    `bool_masked_pos` is given.

    The head owns its call (the loss needs the pixels and the mask, not labels): outputs
    `reconstruction` (in the model's `data_format`), `loss` (with `bool_masked_pos`), and
    `hidden_states` / `attentions` when asked. `compile()` without a loss trains on that `loss`
    output (inputs must hold `bool_masked_pos`).
    """

    num_special_tokens = 1
    backbone_kwargs = {"add_pooling_layer": False, "use_mask_token": True}
    label_names = ()
    serving_outputs = ("reconstruction",)
    input_names = ("pixel_values", "bool_masked_pos")

    def _init_masked_image_head(self, kwargs):
        backbone = self._init_backbone(kwargs)
        arch = backbone.config
        self.encoder_stride = arch["encoder_stride"]
        self.decoder = keras.layers.Conv2D(
            self.encoder_stride ** 2 * arch["num_channels"], 1, data_format="channels_last",
            kernel_initializer=hf_initializer(arch["initializer_range"]), dtype=self.dtype_policy, name="decoder",
        )

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             interpolate_pos_encoding=False):
        inputs = self._prepare_inputs(inputs)
        arch = self.backbone.config
        patch_size, channels = arch["patch_size"], arch["num_channels"]
        masked = inputs.get("bool_masked_pos")
        if masked is not None and patch_size != self.encoder_stride:
            raise ValueError(
                "When `bool_masked_pos` is provided, `patch_size` must be equal to `encoder_stride` to ensure "
                "that the reconstructed image has the same dimensions as the input. Received: "
                f"patch_size={patch_size}, encoder_stride={self.encoder_stride}"
            )
        outputs = self.backbone(inputs, training=training, output_attentions=output_attentions,
                                output_hidden_states=output_hidden_states,
                                interpolate_pos_encoding=interpolate_pos_encoding)
        pixels = self.backbone.embeddings.patch_embedding.to_channels_last(inputs["pixel_values"])
        grid_h, grid_w = pixels.shape[1] // patch_size, pixels.shape[2] // patch_size
        x = outputs["last_hidden_state"][:, self.num_special_tokens:]  # (batch, patches, hidden)
        x = ops.reshape(x, (-1, grid_h, grid_w, x.shape[-1]))
        x = self.decoder(x)  # (batch, grid_h, grid_w, r * r * channels), channel = c * r^2 + i * r + j
        r = self.encoder_stride
        x = ops.reshape(x, (-1, grid_h, grid_w, channels, r, r))
        x = ops.transpose(x, (0, 1, 4, 2, 5, 3))  # (batch, grid_h, r, grid_w, r, channels): PyTorch's PixelShuffle
        reconstruction = ops.reshape(x, (-1, grid_h * r, grid_w * r, channels))  # channels last
        result = {}
        if masked is not None:
            from tfmodels.layers.losses import masked_image_modeling_loss

            size = arch["image_size"] // patch_size
            mask = ops.reshape(masked, (-1, size, size))
            mask = ops.repeat(ops.repeat(mask, patch_size, axis=1), patch_size, axis=2)  # (batch, H, W)
            result["loss"] = masked_image_modeling_loss(pixels, reconstruction, mask, channels)
        if self.backbone.data_format == "channels_first":
            reconstruction = ops.transpose(reconstruction, (0, 3, 1, 2))
        result["reconstruction"] = reconstruction
        return self._passthrough(result, outputs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self._compile_loss is not None or y_pred is None or "loss" not in y_pred:
            if self._compile_loss is None:
                raise ValueError(f"{type(self).__name__} trains on its masked-image-modelling loss, which needs "
                                 "`bool_masked_pos` in the input dict.")
            return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        from tfmodels.layers.losses import replica_share

        return replica_share(y_pred["loss"])


class ViTForMaskedImageModeling(MaskedImageModelingMixin, ViTPreTrainedModel):
    """ViT (with a mask token) + the SimMIM decoder: `reconstruction (batch, num_channels, height, width)`,
    and `loss` (masked L1, as the reference) when `bool_masked_pos (batch, num_patches)` is given.

    Raises:
        ValueError: `bool_masked_pos` with `patch_size != encoder_stride` (as the reference).

    References: `transformers.ViTForMaskedImageModeling`.
    """

    def __init__(self, **kwargs):
        self._init_masked_image_head(kwargs)

"""CLIP: a causal text Transformer and a ViT image encoder, projected into one embedding space.

    text:  input_ids -> token + position embeddings -> causal pre-norm blocks -> final LayerNorm
           -> state at the EOS token (pooler_output) -> text_projection
    image: pixel_values -> [CLS] + patches + positions -> pre_layrnorm -> pre-norm blocks
           -> post_layernorm([CLS]) (pooler_output) -> visual_projection
    CLIPModel: cosine similarities times exp(logit_scale); symmetric contrastive loss.

Blocks use `quick_gelu` (`x * sigmoid(1.702 x)`) by default. The text model
pools at the first `eos_token_id` of each row, or, for old configs with
`eos_token_id == 2`, at the highest token id (the rule of the pinned reference).

References:
    Radford et al., "Learning Transferable Visual Models From Natural Language
    Supervision", 2021. Parity reference: `transformers.models.clip.modeling_clip` (PyTorch).
"""

import keras
from keras import ops

from tfmodels.layers import LayerNormalization, TransformerEmbeddings, TransformerEncoderBlock
from tfmodels.layers.image_embeddings import ImageEmbeddings, check_data_format
from tfmodels.layers.losses import contrastive_loss, replica_share
from tfmodels.layers.kv_cache import causal_attention_mask
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, run_encoder_layers, stack_outputs
from tfmodels.models.encoder import check_sequence_length
from tfmodels.models.heads import HeadModelMixin
from tfmodels.models.vit.modeling import VisionModelMixin

TEXT_INPUTS = ("input_ids", "attention_mask", "position_ids")
_SUBCONFIG_DROP = ("architectures", "transformers_version", "dtype", "torch_dtype")


def eos_token_states(hidden_states, input_ids, eos_token_id):
    """`hidden_states (B, T, D)` at each row's pooling position -> `(B, D)`, CLIP's rule.

    `eos_token_id == 2` (configs from before transformers PR #24773): the
    position of the highest token id; otherwise the first position holding
    `eos_token_id` (position 0 for a row without one). Ties go to the first
    position, as `torch.argmax` and `tf.argmax` both do.
    """
    ids = ops.cast(input_ids, "int32")
    if eos_token_id == 2:
        index = ops.argmax(ids, axis=-1)
    else:
        index = ops.argmax(ops.cast(ops.equal(ids, eos_token_id), "int32"), axis=-1)
    index = ops.cast(index, "int32")[:, None, None]  # (B, 1, 1)
    return ops.take_along_axis(hidden_states, index, axis=1)[:, 0]


def _clip_blocks(model, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps,
                 attention_dropout, initializer_range):
    init = hf_initializer(initializer_range)
    return [
        TransformerEncoderBlock(
            num_attention_heads, intermediate_size, hidden_act=hidden_act, attention_dropout=attention_dropout,
            layer_norm_eps=layer_norm_eps, normalize_first=True, kernel_initializer=init,
            dtype=model.dtype_policy, name=f"encoder_layer_{i}",
        )
        for i in range(num_hidden_layers)
    ]


def _check_heads(hidden_size, num_attention_heads):
    if hidden_size % num_attention_heads:
        raise ValueError("hidden_size must be a multiple of num_attention_heads. Received: "
                         f"hidden_size={hidden_size}, num_attention_heads={num_attention_heads}")


class CLIPTextModel(PreTrainedModel):
    """CLIP's text encoder: causal pre-norm Transformer, final LayerNorm, EOS pooling.

    Args: the fields of a Hugging Face `CLIPTextConfig` (`vocab_size`,
    `hidden_size`, `intermediate_size`, `projection_dim`, `num_hidden_layers`,
    `num_attention_heads`, `max_position_embeddings`, `hidden_act`,
    `layer_norm_eps`, `attention_dropout`, `eos_token_id`, ...).

    Call inputs: `input_ids (batch, seq_len)`, optional `attention_mask`
    (0/1, combined with the causal mask) and `position_ids`.

    Returns: dict with `last_hidden_state (batch, seq_len, hidden_size)` (after
    the final LayerNorm), `pooler_output (batch, hidden_size)` (the state at
    the EOS token, see `eos_token_states`), and when asked `hidden_states`
    (embeddings + every block's output, before the final LayerNorm) and `attentions`.

    Raises:
        ValueError: sequences longer than `max_position_embeddings`.

    References: `transformers.CLIPTextModel`.
    """

    model_type = "clip_text_model"
    input_names = TEXT_INPUTS
    serving_outputs = ("last_hidden_state", "pooler_output")

    def __init__(
        self,
        vocab_size=49408,
        hidden_size=512,
        intermediate_size=2048,
        projection_dim=512,
        num_hidden_layers=12,
        num_attention_heads=8,
        max_position_embeddings=77,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        attention_dropout=0.0,
        initializer_range=0.02,
        initializer_factor=1.0,
        pad_token_id=1,
        bos_token_id=49406,
        eos_token_id=49407,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        _check_heads(hidden_size, num_attention_heads)
        self.embeddings = TransformerEmbeddings(
            vocab_size, hidden_size, max_position_embeddings=max_position_embeddings, type_vocab_size=0,
            layer_norm_eps=None, initializer_range=initializer_range, dtype=self.dtype_policy, name="embeddings",
        )
        self.encoder_layers = _clip_blocks(self, num_hidden_layers, num_attention_heads, intermediate_size,
                                           hidden_act, layer_norm_eps, attention_dropout, initializer_range)
        self.final_layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy,
                                                   name="final_layer_norm")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        input_ids = inputs["input_ids"]
        if "position_ids" not in inputs:
            check_sequence_length(input_ids, self.config["max_position_embeddings"], type(self).__name__)
        x = self.embeddings(input_ids, position_ids=inputs.get("position_ids"), training=training)
        mask = causal_attention_mask(ops.shape(x)[1], inputs.get("attention_mask"))
        x, hidden_states, attentions = run_encoder_layers(self.encoder_layers, x, output_attentions, training,
                                                          attention_mask=mask)
        x = self.final_layer_norm(x)
        outputs = {"last_hidden_state": x,
                   "pooler_output": eos_token_states(x, input_ids, self.config["eos_token_id"])}
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions)


class CLIPVisionModel(VisionModelMixin, PreTrainedModel):
    """CLIP's image encoder: ViT embeddings (no patch bias), `pre_layrnorm`, pre-norm blocks,
    `post_layernorm` on the final [CLS] state as `pooler_output`.

    Args: the fields of a Hugging Face `CLIPVisionConfig` (`hidden_size`,
    `intermediate_size`, `projection_dim`, `num_hidden_layers`,
    `num_attention_heads`, `num_channels`, `image_size`, `patch_size`,
    `hidden_act`, `layer_norm_eps`, `attention_dropout`, ...), plus
    `data_format` (`"channels_first"` default, or `"channels_last"`).

    Call inputs: float `pixel_values (batch, num_channels, image_size, image_size)`.
    Call options: `interpolate_pos_encoding=True` for other resolutions.

    Returns: dict with `last_hidden_state (batch, 1 + num_patches, hidden_size)`
    (no final norm, as the reference), `pooler_output (batch, hidden_size)`, and
    when asked `hidden_states` (the `pre_layrnorm` output + every block's
    output) and `attentions`.

    Raises:
        TypeError: integer `pixel_values`.
        ValueError: see `tfmodels.layers.image_embeddings.ImageEmbeddings`.

    References: `transformers.CLIPVisionModel`.
    """

    model_type = "clip_vision_model"
    input_names = ("pixel_values",)
    serving_outputs = ("last_hidden_state", "pooler_output")

    def __init__(
        self,
        hidden_size=768,
        intermediate_size=3072,
        projection_dim=512,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_channels=3,
        image_size=224,
        patch_size=32,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        attention_dropout=0.0,
        initializer_range=0.02,
        initializer_factor=1.0,
        data_format="channels_first",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals(), exclude=("data_format",))
        _check_heads(hidden_size, num_attention_heads)
        self.data_format = check_data_format(data_format)
        self.embeddings = ImageEmbeddings(
            hidden_size, image_size, patch_size, num_channels=num_channels, patch_bias=False,
            data_format=data_format, initializer_range=initializer_range, dtype=self.dtype_policy, name="embeddings",
        )
        self.pre_layrnorm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy, name="pre_layrnorm")
        self.encoder_layers = _clip_blocks(self, num_hidden_layers, num_attention_heads, intermediate_size,
                                           hidden_act, layer_norm_eps, attention_dropout, initializer_range)
        self.post_layernorm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy,
                                                 name="post_layernorm")

    def _constructor_only_config(self):
        return {"data_format": self.data_format}

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             interpolate_pos_encoding=False):
        inputs = self._prepare_inputs(inputs)
        x = self.embeddings(inputs["pixel_values"], interpolate_pos_encoding=interpolate_pos_encoding,
                            training=training)
        x = self.pre_layrnorm(x)
        x, hidden_states, attentions = run_encoder_layers(self.encoder_layers, x, output_attentions, training)
        outputs = {"last_hidden_state": x, "pooler_output": self.post_layernorm(x[:, 0])}
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions)


def _projection(model, units, name, initializer_range=0.02):
    return keras.layers.Dense(units, use_bias=False, kernel_initializer=hf_initializer(initializer_range),
                              dtype=model.dtype_policy, name=name)


class _CLIPWithProjection(HeadModelMixin, PreTrainedModel):
    """A CLIP tower (`base_model_prefix`) plus its bias-free projection to `projection_dim`."""

    backbone_kwargs = {}
    projection_name = None
    embeds_name = None

    def __init__(self, **kwargs):
        tower = self._init_backbone(kwargs)
        setattr(self, self.projection_name,
                _projection(self, tower.config["projection_dim"], self.projection_name,
                            tower.config["initializer_range"]))

    def _project(self, inputs, training, output_attentions, output_hidden_states, **options):
        outputs = self.backbone(inputs, training=training, output_attentions=output_attentions,
                                output_hidden_states=output_hidden_states, **options)
        result = {self.embeds_name: getattr(self, self.projection_name)(outputs["pooler_output"]),
                  "last_hidden_state": outputs["last_hidden_state"]}
        return self._passthrough(result, outputs)


class CLIPTextModelWithProjection(_CLIPWithProjection):
    """`CLIPTextModel` + `text_projection`: `text_embeds (batch, projection_dim)` (not normalised),
    `last_hidden_state`, and when asked `hidden_states` / `attentions`.

    Args: the fields of a `CLIPTextConfig` (`projection_dim` sizes the projection).

    References: `transformers.CLIPTextModelWithProjection`.
    """

    model_type = "clip_text_model"
    base_model_prefix = "text_model"
    input_names = TEXT_INPUTS
    serving_outputs = ("text_embeds",)
    backbone_class = CLIPTextModel
    projection_name = "text_projection"
    embeds_name = "text_embeds"

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        return self._project(self._prepare_inputs(inputs), training, output_attentions, output_hidden_states)


class CLIPVisionModelWithProjection(VisionModelMixin, _CLIPWithProjection):
    """`CLIPVisionModel` + `visual_projection`: `image_embeds (batch, projection_dim)` (not
    normalised), `last_hidden_state`, and when asked `hidden_states` / `attentions`.

    Args: the fields of a `CLIPVisionConfig`, plus `data_format`.
    Call options: `interpolate_pos_encoding`.

    References: `transformers.CLIPVisionModelWithProjection`.
    """

    model_type = "clip_vision_model"
    base_model_prefix = "vision_model"
    input_names = ("pixel_values",)
    serving_outputs = ("image_embeds",)
    backbone_class = CLIPVisionModel
    projection_name = "visual_projection"
    embeds_name = "image_embeds"

    @property
    def data_format(self):
        return self.backbone.data_format

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             interpolate_pos_encoding=False):
        return self._project(self._prepare_inputs(inputs), training, output_attentions, output_hidden_states,
                             interpolate_pos_encoding=interpolate_pos_encoding)


class CLIPModel(PreTrainedModel):
    """CLIP: both towers, both projections, and the scaled cosine similarities between them.

    Args: the fields of a Hugging Face `CLIPConfig`: `text_config` and
    `vision_config` (dicts of `CLIPTextConfig` / `CLIPVisionConfig` fields),
    `projection_dim`, `logit_scale_init_value`, `initializer_factor`; plus
    `data_format` for `pixel_values`.

    Call inputs: `input_ids (text_batch, seq_len)`, `attention_mask`,
    `position_ids`, float `pixel_values (image_batch, channels, height, width)`.
    Call options: `return_loss=True` (needs `text_batch == image_batch`),
    `interpolate_pos_encoding`, `output_hidden_states`, `output_attentions`.

    Returns: a dict, nested like the reference's `CLIPOutput`:
        loss: float32 scalar, with `return_loss=True` (`contrastive_loss`).
        logits_per_image: `(image_batch, text_batch)`, `exp(logit_scale) * cos`.
        logits_per_text: `(text_batch, image_batch)`, its transpose.
        text_embeds: `(text_batch, projection_dim)`, L2-normalised.
        image_embeds: `(image_batch, projection_dim)`, L2-normalised.
        text_model_output: dict of the text tower (`last_hidden_state`,
            `pooler_output` = the projected, unnormalised text embedding as in
            the pinned reference, and `hidden_states` / `attentions` when asked).
        vision_model_output: the same for the image tower.
    A nested dict is what Keras returns from `call()`; `out["text_model_output"]["pooler_output"]`.

    `compile()` without a loss trains on the contrastive loss (no labels needed).

    References: `transformers.CLIPModel`.
    """

    model_type = "clip"
    input_names = ("input_ids", "pixel_values", "attention_mask", "position_ids")
    float_input_names = ("pixel_values",)
    serving_outputs = ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds")

    def __init__(self, text_config=None, vision_config=None, projection_dim=512, logit_scale_init_value=2.6592,
                 initializer_factor=1.0, data_format="channels_first", **kwargs):
        super().__init__(**kwargs)
        self._record_config(locals(), exclude=("text_config", "vision_config", "data_format"))
        self.data_format = check_data_format(data_format)
        text_config = {k: v for k, v in (text_config or {}).items() if k not in _SUBCONFIG_DROP}
        vision_config = {k: v for k, v in (vision_config or {}).items() if k not in _SUBCONFIG_DROP}
        self.text_model = CLIPTextModel(**text_config, dtype=self.dtype_policy, name="text_model")
        self.vision_model = CLIPVisionModel(**vision_config, data_format=data_format, dtype=self.dtype_policy,
                                            name="vision_model")
        self.visual_projection = _projection(self, projection_dim, "visual_projection")
        self.text_projection = _projection(self, projection_dim, "text_projection")
        self.logit_scale = self.add_weight(name="logit_scale", shape=(),
                                           initializer=keras.initializers.Constant(logit_scale_init_value))

    def _sub_configs(self):
        def sub(model):
            config = model.hf_config()
            config.pop("architectures", None)
            return config

        return {"text_config": sub(self.text_model), "vision_config": sub(self.vision_model)}

    def hf_config(self):
        return {**super().hf_config(), **self._sub_configs()}

    def get_config(self):
        return {**super().get_config(), **self._sub_configs()}

    def _constructor_only_config(self):
        return {"data_format": self.data_format}

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return {**PreTrainedModel.dummy_inputs(self, batch_size, seq_len), **self.vision_model.dummy_inputs(batch_size)}

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False, return_loss=False,
             interpolate_pos_encoding=False):
        inputs = self._prepare_inputs(inputs)
        if "pixel_values" not in inputs:
            raise ValueError(f"CLIPModel needs `pixel_values` and `input_ids`. Received inputs: {sorted(inputs)}.")
        options = dict(training=training, output_attentions=output_attentions,
                       output_hidden_states=output_hidden_states)
        vision = dict(self.vision_model({"pixel_values": inputs["pixel_values"]},
                                        interpolate_pos_encoding=interpolate_pos_encoding, **options))
        text = dict(self.text_model({k: v for k, v in inputs.items() if k in TEXT_INPUTS}, **options))
        vision["pooler_output"] = self.visual_projection(vision["pooler_output"])
        text["pooler_output"] = self.text_projection(text["pooler_output"])
        image_embeds = vision["pooler_output"] / ops.sqrt(ops.sum(ops.square(vision["pooler_output"]), -1,
                                                                   keepdims=True))
        text_embeds = text["pooler_output"] / ops.sqrt(ops.sum(ops.square(text["pooler_output"]), -1, keepdims=True))
        scale = ops.exp(ops.cast(self.logit_scale, text_embeds.dtype))
        logits_per_text = ops.matmul(text_embeds, ops.transpose(image_embeds)) * scale  # (texts, images)
        outputs = {"logits_per_image": ops.transpose(logits_per_text), "logits_per_text": logits_per_text,
                   "text_embeds": text_embeds, "image_embeds": image_embeds,
                   "text_model_output": text, "vision_model_output": vision}
        if return_loss:
            outputs = {"loss": contrastive_loss(logits_per_text), **outputs}
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The contrastive loss of the batch when compiled without `loss=` (no labels needed)."""
        if self._compile_loss is not None:
            return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        return replica_share(contrastive_loss(y_pred["logits_per_text"]))

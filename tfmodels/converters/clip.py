"""CLIP <-> Hugging Face `CLIPModel`, `CLIPTextModel[WithProjection]`, `CLIPVisionModel[WithProjection]`.

Text tower keys (under `text_model.` in `CLIPModel` and `*WithProjection`
checkpoints): `embeddings.{token_embedding, position_embedding}`,
`encoder.layers.{i}.{self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2,
layer_norm2}`, `final_layer_norm`. Vision tower (under `vision_model.`):
`embeddings.{class_embedding, patch_embedding, position_embedding}`,
`pre_layrnorm`, the same blocks, `post_layernorm`. Top level: `text_projection`,
`visual_projection` (bias-free `nn.Linear`), `logit_scale` (a scalar).

Layout changes, each for one reason:
- `patch_embedding.weight` `(out, in, kh, kw)` -> Keras `Conv2D` kernel
  `(kh, kw, in, out)` (`TORCH_CONV2D`): Keras convolves channels-last.
- `nn.Linear` weights are transposed (`LINEAR`), q/k/v split into heads.
- `class_embedding (D,)` and `position_embedding.weight (positions, D)` are
  already in the `ImageEmbeddings` layout (ViT's carry unit axes instead).

The `position_ids` buffers are not persistent in the pinned reference; older
checkpoints that hold them are checked against `arange` (`buffers.position_ids_buffer`).
"""

from tfmodels.converters.layer_tables import attention, dense, embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import Param, WeightTable, prefixed
from tfmodels.converters.registry import register_weight_table
from tfmodels.converters.vit import conv2d

OTHER_HEAD_KEYS = (r"^text_projection\.", r"^visual_projection\.", r"^logit_scale$", r"^classifier\.")


def _blocks(tower):
    params = []
    for i in range(len(tower.encoder_layers)):
        hf, keras = f"encoder.layers.{i}", f"encoder_layers.{i}"
        params += attention(*(f"{hf}.self_attn.{n}_proj" for n in ("q", "k", "v", "out")), f"{keras}.self_attention")
        params += layer_norm(f"{hf}.layer_norm1", f"{keras}.attention_layer_norm")
        params += feed_forward(f"{hf}.mlp.fc1", f"{hf}.mlp.fc2", f"{keras}.feed_forward")
        params += layer_norm(f"{hf}.layer_norm2", f"{keras}.output_layer_norm")
    return params


def clip_text_tower(tower):
    """Rows of a `CLIPTextModel` (unprefixed keys)."""
    return [
        *embedding("embeddings.token_embedding", "embeddings.word_embeddings"),
        *embedding("embeddings.position_embedding", "embeddings.position_embeddings"),
        *_blocks(tower),
        *layer_norm("final_layer_norm", "final_layer_norm"),
    ]


def clip_vision_tower(tower):
    """Rows of a `CLIPVisionModel` (unprefixed keys)."""
    return [
        Param("embeddings.class_embedding", "embeddings.class_token"),
        *conv2d("embeddings.patch_embedding", "embeddings.patch_embedding.projection", use_bias=False),
        Param("embeddings.position_embedding.weight", "embeddings.position_embeddings"),
        *layer_norm("pre_layrnorm", "pre_layrnorm"),
        *_blocks(tower),
        *layer_norm("post_layernorm", "post_layernorm"),
    ]


def _tower_table(model, tower_rows, prefix, projection):
    is_head = hasattr(model, "backbone")
    params = prefixed(prefix if is_head else "", tower_rows(model.backbone if is_head else model))
    if is_head:
        params += dense(projection, projection, use_bias=False)
    # A legacy TF `TFCLIPTextModel` / `TFCLIPVisionModel` keeps its tower under a `clip` main layer
    # (`clip/text_model/...`, so `clip.text_model.*` once translated), which the PyTorch tower has not.
    return WeightTable(params, other_head_keys=OTHER_HEAD_KEYS, base_model_prefix=prefix, is_head_model=is_head,
                       tf_renames=((r"^clip\.", ""),))


@register_weight_table("clip_text_model")
def clip_text_table(model):
    return _tower_table(model, clip_text_tower, "text_model", "text_projection")


@register_weight_table("clip_vision_model")
def clip_vision_table(model):
    return _tower_table(model, clip_vision_tower, "vision_model", "visual_projection")


@register_weight_table("clip")
def clip_table(model):
    params = [
        *prefixed("text_model", clip_text_tower(model.text_model)),
        *prefixed("vision_model", clip_vision_tower(model.vision_model)),
        *dense("text_projection", "text_projection", use_bias=False),
        *dense("visual_projection", "visual_projection", use_bias=False),
        Param("logit_scale", "logit_scale"),
    ]
    # The reference's `base_model_prefix`: a legacy TF `TFCLIPModel` checkpoint keeps every variable under
    # its `clip` main layer (`clip.text_model.*` once translated), which `transformers` strips as that prefix.
    return WeightTable(params, base_model_prefix="clip")

"""ViT (and DeiT) <-> Hugging Face `ViTModel` / `ViTFor*` checkpoints.

Backbone keys (under `vit.` in head checkpoints): `embeddings.{cls_token,
mask_token, position_embeddings, patch_embeddings.projection}`,
`encoder.layer.{i}.{attention.attention.{query,key,value}, attention.output.dense,
layernorm_before, intermediate.dense, output.dense, layernorm_after}`,
`layernorm`, `pooler.dense`; heads `classifier` (image classification),
`decoder.0` (SimMIM's 1x1 convolution). DeiT (`converters/deit.py`) adds
`embeddings.distillation_token` and the teacher head's `cls_classifier` /
`distillation_classifier`.

Layout changes, each for one reason:
- `nn.Conv2d` weights `(out, in, kh, kw)` -> Keras `Conv2D` kernels
  `(kh, kw, in, out)` (`TORCH_CONV2D`): Keras convolves channels-last with the
  output channels last; the patch projection and the SimMIM decoder.
- `cls_token` / `distillation_token` / `mask_token` `(1, 1, D)` -> `(D,)`
  and `position_embeddings` `(1, positions, D)` -> `(positions, D)`
  (`LeadingUnitAxes`): PyTorch keeps broadcast axes in the parameters, the
  shared `ImageEmbeddings` layer does not (CLIP stores them without).
- `nn.Linear` weights are transposed (`LINEAR`), q/k/v split into heads, as everywhere.

Transformers 5 renames the modules in memory (`layers.{i}.attention.q_proj`, ...)
but writes and reads these (legacy) names in checkpoints.
"""

from tfmodels.converters.layer_tables import attention, classifier_heads, dense, feed_forward, layer_norm
from tfmodels.converters.mapping import TORCH_CONV2D, LeadingUnitAxes, Param, WeightTable, prefixed
from tfmodels.converters.registry import register_weight_table

OTHER_HEAD_KEYS = (r"^classifier\.", r"^cls_classifier\.", r"^distillation_classifier\.", r"^decoder\.",
                   r"(^|\.)embeddings\.mask_token$")


def conv2d(hf, keras, use_bias=True):
    """`nn.Conv2d` `hf` <-> Keras `Conv2D` `keras`."""
    params = [Param(f"{hf}.weight", f"{keras}.kernel", TORCH_CONV2D)]
    if use_bias:
        params.append(Param(f"{hf}.bias", f"{keras}.bias"))
    return params


def vit_backbone(backbone):
    """Rows of a `ViTModel` / `DeiTModel` (unprefixed keys)."""
    embeddings = backbone.embeddings
    params = [
        Param("embeddings.cls_token", "embeddings.class_token", LeadingUnitAxes(2)),
        Param("embeddings.position_embeddings", "embeddings.position_embeddings", LeadingUnitAxes(1)),
        *conv2d("embeddings.patch_embeddings.projection", "embeddings.patch_embedding.projection"),
    ]
    if embeddings.distillation_token:
        params.append(Param("embeddings.distillation_token", "embeddings.distillation_embedding", LeadingUnitAxes(2)))
    if embeddings.use_mask_token:
        params.append(Param("embeddings.mask_token", "embeddings.mask_token", LeadingUnitAxes(2)))
    qkv_bias = backbone.config["qkv_bias"]
    for i in range(len(backbone.encoder_layers)):
        hf, keras = f"encoder.layer.{i}", f"encoder_layers.{i}"
        params += attention(*(f"{hf}.attention.attention.{n}" for n in ("query", "key", "value")),
                            f"{hf}.attention.output.dense", f"{keras}.self_attention", use_bias=qkv_bias,
                            output_use_bias=True)
        params += layer_norm(f"{hf}.layernorm_before", f"{keras}.attention_layer_norm")
        params += feed_forward(f"{hf}.intermediate.dense", f"{hf}.output.dense", f"{keras}.feed_forward")
        params += layer_norm(f"{hf}.layernorm_after", f"{keras}.output_layer_norm")
    params += layer_norm("layernorm", "layernorm")
    if backbone.pooler is not None:
        # Checkpoints of the heads (built without the pooler) lack it, as in `transformers`.
        params += dense("pooler.dense", "pooler.dense", optional=True)
    return params


def vit_table(model):
    """The table of any ViT/DeiT class (backbone, image classification, teacher, SimMIM)."""
    is_head = hasattr(model, "backbone")
    # The bare model's keys are unprefixed, but it also loads a head's checkpoint (`vit.*` / `deit.*`; a legacy
    # TF `TFViTModel` keeps its main layer `vit` too), as in transformers.
    prefix = model.base_model_prefix if is_head else model.model_type
    params = prefixed(prefix if is_head else "", vit_backbone(model.backbone if is_head else model))
    params += classifier_heads(model)
    for name in ("cls_classifier", "distillation_classifier"):
        if hasattr(model, name):
            params += dense(name, name)
    if hasattr(model, "decoder"):
        params += conv2d("decoder.0", "decoder")
    return WeightTable(params, other_head_keys=OTHER_HEAD_KEYS, base_model_prefix=prefix, is_head_model=is_head)


register_weight_table("vit")(vit_table)

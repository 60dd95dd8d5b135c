"""wav2vec 2.0 <-> Hugging Face `Wav2Vec2Model` / `Wav2Vec2For*` checkpoints.

Backbone keys (under `wav2vec2.` in head checkpoints):
`feature_extractor.conv_layers.{i}.{conv, layer_norm}` (a norm on layer 0 only
with `feat_extract_norm="group"`), `feature_projection.{layer_norm, projection}`,
`masked_spec_embed`, `encoder.pos_conv_embed.conv.{bias, weight norm}`,
`encoder.layer_norm`, `encoder.layers.{i}.{attention.{q,k,v,out}_proj,
layer_norm, feed_forward.{intermediate,output}_dense, final_layer_norm}`.
Heads: `lm_head` (CTC), `projector` / `classifier` / `layer_weights`
(classification), `quantizer.{codevectors, weight_proj}` / `project_hid` /
`project_q` (pre-training).

The positional convolution is weight-normalised. `transformers` 5 (through
`torch.nn.utils.parametrizations.weight_norm`) writes its magnitude and
direction as `conv.parametrizations.weight.original0` / `original1`; older
checkpoints (`torch.nn.utils.weight_norm`) as `conv.weight_g` / `conv.weight_v`,
read here as aliases. `save_pretrained` writes the newer names.

Layout changes, each for one reason:
- `nn.Conv1d` weights `(out, in / groups, k)` -> Keras kernels `(k, in / groups,
  out)` (`Permute((2, 1, 0))`): Keras convolves channels-last; the weight
  norm's magnitude `(1, 1, k)` takes the same permutation to `(k, 1, 1)`.
- `quantizer.codevectors` `(1, G * V, d)` -> `(G * V, d)` (`LeadingUnitAxes(1)`).
- `nn.Linear` weights are transposed (`LINEAR`), q/k/v split into heads, as everywhere.
"""

from tfmodels.converters.layer_tables import attention, dense, feed_forward, layer_norm
from tfmodels.converters.mapping import (
    TORCH_CONV1D,
    LeadingUnitAxes,
    Param,
    WeightTable,
    prefixed,
    split_head_model,
)
from tfmodels.converters.registry import register_weight_table

OTHER_HEAD_KEYS = (r"^lm_head\.", r"^projector\.", r"^classifier\.", r"^layer_weights$", r"^quantizer\.",
                   r"^project_hid\.", r"^project_q\.", r"(^|\.)masked_spec_embed$")


def wav2vec2_backbone(backbone):
    """Rows of a `Wav2Vec2Model` (unprefixed keys)."""
    config = backbone.config
    encoder = backbone.feature_encoder
    params = []
    for i in range(len(encoder.conv_layers)):
        hf, keras = f"feature_extractor.conv_layers.{i}", f"feature_encoder.conv_layers.{i}"
        params.append(Param(f"{hf}.conv.weight", f"{keras}.kernel", TORCH_CONV1D))
        if config["conv_bias"]:
            params.append(Param(f"{hf}.conv.bias", f"{keras}.bias"))
        if i < len(encoder.norm_layers):
            params += layer_norm(f"{hf}.layer_norm", f"feature_encoder.norm_layers.{i}")
    params += layer_norm("feature_projection.layer_norm", "feature_layer_norm")
    params += dense("feature_projection.projection", "feature_projection")
    if backbone.has_masked_spec_embed:
        params.append(Param("masked_spec_embed", "masked_spec_embed"))
    conv = "encoder.pos_conv_embed.conv"
    params += [
        Param(f"{conv}.parametrizations.weight.original0", "pos_conv_embed.weight_g", TORCH_CONV1D,
              aliases=(f"{conv}.weight_g",)),
        Param(f"{conv}.parametrizations.weight.original1", "pos_conv_embed.weight_v", TORCH_CONV1D,
              aliases=(f"{conv}.weight_v",)),
        Param(f"{conv}.bias", "pos_conv_embed.bias"),
    ]
    params += layer_norm("encoder.layer_norm", "encoder_layer_norm")
    for i in range(len(backbone.encoder_layers)):
        hf, keras = f"encoder.layers.{i}", f"encoder_layers.{i}"
        params += attention(*(f"{hf}.attention.{n}_proj" for n in ("q", "k", "v", "out")), f"{keras}.self_attention")
        params += layer_norm(f"{hf}.layer_norm", f"{keras}.attention_layer_norm")
        params += feed_forward(f"{hf}.feed_forward.intermediate_dense", f"{hf}.feed_forward.output_dense",
                               f"{keras}.feed_forward")
        params += layer_norm(f"{hf}.final_layer_norm", f"{keras}.output_layer_norm")
    return params


def wav2vec2_table(model):
    """The table of any Wav2Vec2 class (backbone, CTC, classification, pre-training)."""
    is_head, backbone = split_head_model(model)
    # The bare model's keys are unprefixed, but it also loads a head's checkpoint (`wav2vec2.*`; a legacy TF
    # `TFWav2Vec2Model` keeps its main layer `wav2vec2` too), as in transformers.
    prefix = model.base_model_prefix if is_head else model.model_type
    params = prefixed(prefix if is_head else "", wav2vec2_backbone(backbone))
    for name in ("lm_head", "projector", "classifier", "project_hid", "project_q"):
        if hasattr(model, name):
            params += dense(name, name)
    if hasattr(model, "layer_weights"):
        params.append(Param("layer_weights", "layer_weights"))
    if hasattr(model, "quantizer"):
        params.append(Param("quantizer.codevectors", "quantizer.codevectors", LeadingUnitAxes(1)))
        params += dense("quantizer.weight_proj", "quantizer.weight_proj")
    return WeightTable(params, other_head_keys=OTHER_HEAD_KEYS, base_model_prefix=prefix, is_head_model=is_head)


register_weight_table("wav2vec2")(wav2vec2_table)

"""ConvBERT <-> Hugging Face `ConvBertModel` / `ConvBertFor*` checkpoints.

BERT key layout plus, per layer, `attention.self.key_conv_attn_layer.{depthwise,pointwise}.weight`
and `.bias` (separable convolution), `conv_kernel_layer`, `conv_out_layer`;
`attention.output.dense` acts on `[attention heads, convolution heads]` and
is split into `output_dense` / `conv_output_dense`; grouped feed-forward
weights `(groups, in / groups, out / groups)` load as they are. Heads:
`classifier.dense` / `classifier.out_proj` (sequence), `classifier`,
`qa_outputs`, `generator_predictions.*` + `generator_lm_head` (masked LM).
"""

from tfmodels.converters.layer_tables import (
    attention,
    bert_style_embeddings,
    classifier_heads,
    dense,
    feed_forward,
    layer_norm,
)
from tfmodels.converters.mapping import (
    AddTrailingAxis,
    FusedPart,
    IDENTITY,
    LINEAR,
    LINEAR_FROM_HEADS,
    Param,
    Permute,
    TORCH_CONV1D,
    WeightTable,
    prefixed,
    split_head_model,
)
from tfmodels.converters.registry import register_weight_table

TIED_DECODER = {r"^generator_lm_head\.weight$": "embeddings.word_embeddings.weight"}
OTHER_HEAD_KEYS = (r"^generator_", r"^classifier\.", r"^qa_outputs\.", r"^sequence_summary\.")


def _span_conv_attention(hf, keras):
    params = attention(f"{hf}.self.query", f"{hf}.self.key", f"{hf}.self.value", f"{hf}.output.dense", keras)
    params = [p for p in params if not p.hf_key.startswith(f"{hf}.output.dense")]
    out = f"{hf}.output.dense.weight"
    params += [
        Param(out, f"{keras}.output_dense.kernel", FusedPart(0, 2, base=LINEAR_FROM_HEADS, axis=1)),
        Param(f"{hf}.output.dense.bias", f"{keras}.output_dense.bias"),
        Param(out, f"{keras}.conv_output_dense.kernel", FusedPart(1, 2, base=LINEAR_FROM_HEADS, axis=1)),
        Param(f"{hf}.self.key_conv_attn_layer.depthwise.weight", f"{keras}.key_conv.depthwise_kernel",
              Permute((2, 0, 1))),
        Param(f"{hf}.self.key_conv_attn_layer.pointwise.weight", f"{keras}.key_conv.pointwise_kernel", TORCH_CONV1D),
        Param(f"{hf}.self.key_conv_attn_layer.bias", f"{keras}.key_conv.bias", AddTrailingAxis()),
        *dense(f"{hf}.self.conv_kernel_layer", f"{keras}.conv_kernel_dense"),
        *dense(f"{hf}.self.conv_out_layer", f"{keras}.conv_value_dense"),
    ]
    return params


def convbert_backbone(backbone):
    params = bert_style_embeddings("embeddings", "embeddings")
    if backbone.embeddings.projection is not None:
        params += dense("embeddings_project", "embeddings.projection")
    grouped = backbone.config["num_groups"] > 1
    for i in range(len(backbone.encoder_layers)):
        hf, keras = f"encoder.layer.{i}", f"encoder_layers.{i}"
        params += _span_conv_attention(f"{hf}.attention", f"{keras}.self_attention")
        params += layer_norm(f"{hf}.attention.output.LayerNorm", f"{keras}.attention_layer_norm")
        if grouped:  # GroupedLinearLayer weights already have the Keras layout
            params += dense(f"{hf}.intermediate.dense", f"{keras}.feed_forward.intermediate_dense", kernel=IDENTITY)
            params += dense(f"{hf}.output.dense", f"{keras}.feed_forward.output_dense", kernel=IDENTITY)
        else:
            params += feed_forward(f"{hf}.intermediate.dense", f"{hf}.output.dense", f"{keras}.feed_forward")
        params += layer_norm(f"{hf}.output.LayerNorm", f"{keras}.output_layer_norm")
    return params


@register_weight_table("convbert")
def convbert_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("convbert" if is_head else "", convbert_backbone(backbone))
    tied = {}
    if is_head:
        if backbone.pooler is not None:  # ConvBertClassificationHead: dense -> pooler, out_proj -> classifier
            params += dense("classifier.dense", "convbert.pooler.dense", optional=True, head=True)
            params += classifier_heads(model, classifier="classifier.out_proj")
        else:
            params += classifier_heads(model)
    if hasattr(model, "lm_head"):
        params += dense("generator_predictions.dense", "lm_head.dense")
        params += layer_norm("generator_predictions.LayerNorm", "lm_head.layer_norm")
        params.append(Param("generator_lm_head.bias", "lm_head.bias"))
        if not model.lm_head.tie_word_embeddings:
            params.append(Param("generator_lm_head.weight", "lm_head.decoder", LINEAR))
        else:
            tied = TIED_DECODER
    return WeightTable(params, tied=tied, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="convbert", is_head_model=is_head)

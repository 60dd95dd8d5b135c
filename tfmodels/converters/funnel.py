"""Funnel <-> Hugging Face `FunnelModel` / `FunnelBaseModel` / `FunnelFor*` checkpoints.

Keys of `transformers.models.funnel.modeling_funnel`: `embeddings.*`,
`encoder.blocks.{b}.{i}.attention.*` / `.ffn.*`, `decoder.layers.{i}.*`
(prefixed `funnel.` in heads); heads `classifier.linear_hidden|linear_out`
(sequence classification, multiple choice), `classifier`, `qa_outputs`,
`lm_head`, `discriminator_predictions.dense|dense_prediction`.
"""

from tfmodels.converters.layer_tables import dense, embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import (
    FLATTEN,
    IDENTITY,
    LINEAR,
    LINEAR_FROM_HEADS,
    Param,
    WeightTable,
    prefixed,
    split_head_model,
)
from tfmodels.converters.registry import register_weight_table

OTHER_HEAD_KEYS = (r"^classifier\.", r"^qa_outputs\.", r"^lm_head\.", r"^discriminator_predictions\.",
                   r"^(funnel\.)?decoder\.")  # FunnelBaseModel backbones have no decoder


def funnel_layer(hf, keras):
    """`FunnelLayer` <-> `FunnelBlock`. `q_head` has no bias; `r_*` / `seg_embed` keep their layout."""
    attention = f"{keras}.self_attention"
    return [
        *dense(f"{hf}.attention.q_head", f"{attention}.query_dense", kernel=LINEAR, use_bias=False),
        *dense(f"{hf}.attention.k_head", f"{attention}.key_dense", kernel=LINEAR, bias=FLATTEN),
        *dense(f"{hf}.attention.v_head", f"{attention}.value_dense", kernel=LINEAR, bias=FLATTEN),
        *dense(f"{hf}.attention.post_proj", f"{attention}.output_dense", kernel=LINEAR_FROM_HEADS),
        *[Param(f"{hf}.attention.{name}", f"{attention}.{name}", IDENTITY)
          for name in ("r_w_bias", "r_r_bias", "r_kernel", "r_s_bias", "seg_embed")],
        *layer_norm(f"{hf}.attention.layer_norm", f"{keras}.attention_layer_norm"),
        *feed_forward(f"{hf}.ffn.linear_1", f"{hf}.ffn.linear_2", f"{keras}.feed_forward"),
        *layer_norm(f"{hf}.ffn.layer_norm", f"{keras}.output_layer_norm"),
    ]


def funnel_backbone(backbone):
    params = [*embedding("embeddings.word_embeddings", "embeddings.word_embeddings"),
              *layer_norm("embeddings.layer_norm", "embeddings.layer_norm")]
    for b, block in enumerate(backbone.blocks):
        for i in range(len(block)):
            params += funnel_layer(f"encoder.blocks.{b}.{i}", f"blocks.{b}.{i}")
    for i in range(len(backbone.decoder_layers)):
        params += funnel_layer(f"decoder.layers.{i}", f"decoder_layers.{i}")
    return params


@register_weight_table("funnel")
def funnel_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("funnel" if is_head else "", funnel_backbone(backbone))
    flags = dict(optional=True, head=True)
    tied = {}
    if backbone.pooler is not None:  # FunnelClassificationHead.linear_hidden
        params += dense("classifier.linear_hidden", "funnel.pooler.dense", **flags)
        params += dense("classifier.linear_out", "classifier", **flags)
    elif hasattr(model, "classifier"):
        params += dense("classifier", "classifier", **flags)
    if hasattr(model, "qa_outputs"):
        params += dense("qa_outputs", "qa_outputs", **flags)
    if hasattr(model, "lm_head"):
        params.append(Param("lm_head.bias", "lm_head.bias", **flags))
        if not model.lm_head.tie_word_embeddings:
            params.append(Param("lm_head.weight", "lm_head.decoder", LINEAR, **flags))
        else:
            tied = {r"^lm_head\.weight$": "embeddings.word_embeddings.weight"}
    if hasattr(model, "discriminator_dense"):
        params += dense("discriminator_predictions.dense", "discriminator_dense", **flags)
        params += dense("discriminator_predictions.dense_prediction", "discriminator_prediction", **flags)
    return WeightTable(params, tied=tied, other_head_keys=OTHER_HEAD_KEYS, base_model_prefix="funnel",
                       is_head_model=is_head)

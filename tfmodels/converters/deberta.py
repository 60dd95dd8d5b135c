"""DeBERTa (v1) and DeBERTa-v2/v3 <-> Hugging Face checkpoints.

Key layout (`transformers.models.deberta[_v2]`): backbone `embeddings.*`,
`encoder.rel_embeddings`, `encoder.LayerNorm` (v2 `norm_rel_ebd`),
`encoder.conv.*` (v2 conv branch), `encoder.layer.{i}.attention.self.*`
(v2: `query_proj`/`key_proj`/`value_proj`/`pos_key_proj`/`pos_query_proj`;
v1: fused `in_proj` + `q_bias`/`v_bias`, `pos_proj`, `pos_q_proj`), all
prefixed `deberta.` in head models; heads `pooler.dense`, `classifier`,
`qa_outputs`, `cls.predictions.*` (legacy MLM) or `lm_predictions.lm_head.*`.
"""

from tfmodels.converters.layer_tables import (
    classifier_heads,
    dense,
    embedding,
    feed_forward,
    layer_norm,
    masked_lm_bias,
)
from tfmodels.converters.mapping import (
    FLATTEN,
    FusedPart,
    LINEAR,
    LINEAR_FROM_HEADS,
    Param,
    TORCH_CONV1D,
    WeightTable,
    prefixed,
    split_head_model,
)
from tfmodels.converters.registry import register_weight_table


TIED_DECODER = {r"^cls\.predictions\.decoder\.weight$": "embeddings.word_embeddings.weight"}
OTHER_HEAD_KEYS = (r"^cls\.", r"^lm_predictions\.", r"^mask_predictions\.", r"^classifier\.",
                   r"^qa_outputs\.", r"^pooler\.")


def _v2_attention(hf, keras, layer):
    params = []
    for hf_name, name in (("query_proj", "query"), ("key_proj", "key"), ("value_proj", "value")):
        params += dense(f"{hf}.{hf_name}", f"{keras}.{name}_dense", bias=FLATTEN)
    if layer.pos_key_dense is not None:
        params += dense(f"{hf}.pos_key_proj", f"{keras}.pos_key_dense", bias=FLATTEN)
    if layer.pos_query_dense is not None:
        params += dense(f"{hf}.pos_query_proj", f"{keras}.pos_query_dense", bias=FLATTEN)
    return params


def _v1_attention(hf, keras, layer):
    heads = layer.num_heads
    params = [
        Param(f"{hf}.in_proj.weight", f"{keras}.{name}_dense.kernel", FusedPart(i, 3, heads=heads))
        for i, name in enumerate(("query", "key", "value"))
    ]
    params += [Param(f"{hf}.q_bias", f"{keras}.query_dense.bias", FLATTEN),
               Param(f"{hf}.v_bias", f"{keras}.value_dense.bias", FLATTEN)]
    if layer.pos_key_dense is not None:
        params += dense(f"{hf}.pos_proj", f"{keras}.pos_key_dense", use_bias=False)
    if layer.pos_query_dense is not None:
        params += dense(f"{hf}.pos_q_proj", f"{keras}.pos_query_dense", bias=FLATTEN)
    return params


def deberta_backbone(backbone):
    """Rows of a `DebertaModel` / `DebertaV2Model` (without prefix)."""
    emb = backbone.embeddings
    params = embedding("embeddings.word_embeddings", "embeddings.word_embeddings")
    if emb.position_embeddings is not None:
        params += embedding("embeddings.position_embeddings", "embeddings.position_embeddings")
    if emb.token_type_embeddings is not None:
        params += embedding("embeddings.token_type_embeddings", "embeddings.token_type_embeddings")
    if backbone.embed_proj is not None:
        params += dense("embeddings.embed_proj", "embed_proj", use_bias=False)
    params += layer_norm("embeddings.LayerNorm", "embeddings_layer_norm")
    if backbone.rel_embeddings is not None:
        params += embedding("encoder.rel_embeddings", "rel_embeddings")
    if backbone.rel_layer_norm is not None:
        params += layer_norm("encoder.LayerNorm", "rel_layer_norm")
    if backbone.conv is not None:
        params += [Param("encoder.conv.conv.weight", "conv.conv.kernel", TORCH_CONV1D),
                   Param("encoder.conv.conv.bias", "conv.conv.bias")]
        params += layer_norm("encoder.conv.LayerNorm", "conv.layer_norm")
    attention_rows = _v1_attention if backbone._v1 else _v2_attention
    for i, block in enumerate(backbone.encoder_layers):
        hf, keras = f"encoder.layer.{i}", f"encoder_layers.{i}"
        params += attention_rows(f"{hf}.attention.self", f"{keras}.self_attention", block.self_attention)
        params += dense(f"{hf}.attention.output.dense", f"{keras}.self_attention.output_dense",
                        kernel=LINEAR_FROM_HEADS)
        params += layer_norm(f"{hf}.attention.output.LayerNorm", f"{keras}.attention_layer_norm")
        params += feed_forward(f"{hf}.intermediate.dense", f"{hf}.output.dense", f"{keras}.feed_forward")
        params += layer_norm(f"{hf}.output.LayerNorm", f"{keras}.output_layer_norm")
    return params


def deberta_heads(model):
    """Rows of the task heads (context pooler, classifiers, MLM head) and the ignored keys of an untied
    legacy MLM head (`masked_lm_bias`): `(params, ignored_keys)`."""
    flags = dict(optional=True, head=True)
    ignored = ()
    params = classifier_heads(model)
    if getattr(model.backbone, "pooler", None) is not None:
        params += dense("pooler.dense", "deberta.pooler.dense", **flags)
    if hasattr(model, "lm_head"):
        if model.backbone.config["legacy"]:
            params += dense("cls.predictions.transform.dense", "lm_head.dense")
            params += layer_norm("cls.predictions.transform.LayerNorm", "lm_head.layer_norm")
            bias, ignored = masked_lm_bias("cls.predictions.bias", "cls.predictions.decoder", "lm_head.bias",
                                           model.lm_head.tie_word_embeddings)
            params += bias
            if not model.lm_head.tie_word_embeddings:
                params.append(Param("cls.predictions.decoder.weight", "lm_head.decoder", LINEAR))
        else:
            params += dense("lm_predictions.lm_head.dense", "lm_head.dense")
            params += layer_norm("lm_predictions.lm_head.LayerNorm", "lm_head.layer_norm")
            params.append(Param("lm_predictions.lm_head.bias", "lm_head.bias"))
    return params, ignored


def deberta_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("deberta" if is_head else "", deberta_backbone(backbone))
    tied, ignored = {}, ()
    if is_head:
        rows, ignored = deberta_heads(model)
        params += rows
        if hasattr(model, "lm_head") and model.lm_head.tie_word_embeddings and model.backbone.config["legacy"]:
            tied = TIED_DECODER
    other_heads = OTHER_HEAD_KEYS
    if not backbone.config["position_biased_input"]:
        # Built by older `transformers` versions but never added to the embeddings: unused, reported.
        other_heads += (r"(^|\.)embeddings\.position_embeddings\.weight$",)
    return WeightTable(params, tied=tied, ignored_keys=ignored, other_head_keys=other_heads,
                       base_model_prefix="deberta", is_head_model=is_head)


register_weight_table("deberta")(deberta_table)
register_weight_table("deberta-v2")(deberta_table)

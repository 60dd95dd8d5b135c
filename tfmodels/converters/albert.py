"""ALBERT <-> Hugging Face `AlbertModel` / `AlbertFor*` checkpoints.

Backbone keys (under `albert.` in head models): `embeddings.*`,
`encoder.embedding_hidden_mapping_in`, `encoder.albert_layer_groups.{g}.albert_layers.{j}.*`
(`attention.{query,key,value,dense,LayerNorm}`, `ffn`, `ffn_output`,
`full_layer_layer_norm`), `pooler`; heads `classifier`, `qa_outputs`,
`predictions.{dense,LayerNorm,bias}` (+ tied `decoder`), `sop_classifier.classifier`.
"""

from tfmodels.converters.layer_tables import (
    attention,
    bert_style_embeddings,
    classifier_heads,
    dense,
    feed_forward,
    layer_norm,
    masked_lm_bias,
)
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

TIED_DECODER = {r"^predictions\.decoder\.weight$": "embeddings.word_embeddings.weight"}
OTHER_HEAD_KEYS = (r"^predictions\.", r"^sop_classifier\.", r"^classifier\.", r"^qa_outputs\.")


def albert_backbone(backbone):
    params = bert_style_embeddings("embeddings", "embeddings")
    params += dense("encoder.embedding_hidden_mapping_in", "embeddings.projection")
    inner = backbone.config["inner_group_num"]
    for index in range(len(backbone.encoder_layers)):
        hf = f"encoder.albert_layer_groups.{index // inner}.albert_layers.{index % inner}"
        keras = f"encoder_layers.{index}"
        params += attention(*(f"{hf}.attention.{n}" for n in ("query", "key", "value", "dense")),
                            f"{keras}.self_attention")
        params += layer_norm(f"{hf}.attention.LayerNorm", f"{keras}.attention_layer_norm")
        params += feed_forward(f"{hf}.ffn", f"{hf}.ffn_output", f"{keras}.feed_forward")
        params += layer_norm(f"{hf}.full_layer_layer_norm", f"{keras}.output_layer_norm")
    if backbone.pooler is not None:
        params += dense("pooler", "pooler.dense", optional=True)
    return params


@register_weight_table("albert")
def albert_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("albert" if is_head else "", albert_backbone(backbone))
    params += classifier_heads(model)
    tied, ignored = {}, ()
    if hasattr(model, "lm_head"):
        bias, ignored = masked_lm_bias("predictions.bias", "predictions.decoder", "lm_head.bias",
                                       model.lm_head.tie_word_embeddings)
        params += [*dense("predictions.dense", "lm_head.dense"),
                   *layer_norm("predictions.LayerNorm", "lm_head.layer_norm"), *bias]
        if not model.lm_head.tie_word_embeddings:
            params.append(Param("predictions.decoder.weight", "lm_head.decoder", LINEAR))
        else:
            tied = TIED_DECODER
    if hasattr(model, "sentence_classifier"):
        params += dense("sop_classifier.classifier", "sentence_classifier", optional=True, head=True)
    return WeightTable(params, tied=tied, ignored_keys=ignored, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="albert", is_head_model=is_head)

"""XLM and FlauBERT <-> Hugging Face checkpoints (same key layout).

Backbone keys (prefixed `transformer.` in head models): `embeddings`,
`position_embeddings`, `lang_embeddings`, `layer_norm_emb`,
`attentions.{i}.{q,k,v,out}_lin`, `layer_norm1.{i}`, `ffns.{i}.lin{1,2}`,
`layer_norm2.{i}`. Heads: `sequence_summary.summary`, `logits_proj`,
`classifier`, `qa_outputs`, `pred_layer.proj`.
"""

from tfmodels.converters.layer_tables import attention, classifier_heads, dense, embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

OTHER_HEAD_KEYS = (r"^pred_layer\.", r"^sequence_summary\.", r"^logits_proj\.", r"^classifier\.", r"^qa_outputs\.")


def xlm_backbone(backbone):
    params = [
        *embedding("embeddings", "embeddings.word_embeddings"),
        *embedding("position_embeddings", "embeddings.position_embeddings"),
        *layer_norm("layer_norm_emb", "embeddings.layer_norm"),
    ]
    if backbone.lang_embeddings is not None:
        params += embedding("lang_embeddings", "lang_embeddings")
    for i in range(len(backbone.encoder_layers)):
        block = f"encoder_layers.{i}"
        params += [
            *attention(*(f"attentions.{i}.{n}_lin" for n in ("q", "k", "v", "out")), f"{block}.self_attention"),
            *layer_norm(f"layer_norm1.{i}", f"{block}.attention_layer_norm"),
            *feed_forward(f"ffns.{i}.lin1", f"ffns.{i}.lin2", f"{block}.feed_forward"),
            *layer_norm(f"layer_norm2.{i}", f"{block}.output_layer_norm"),
        ]
    return params


@register_weight_table("xlm")
@register_weight_table("flaubert")
def xlm_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("transformer" if is_head else "", xlm_backbone(backbone))
    params += classifier_heads(model)
    flags = dict(optional=True, head=True)
    if hasattr(model, "squad_head"):
        for hf, ours in (("start_logits.dense", "start_dense"), ("end_logits.dense_0", "end_dense_0"),
                         ("end_logits.dense_1", "end_dense_1"), ("answer_class.dense_0", "answer_dense_0")):
            params += dense(f"qa_outputs.{hf}", f"squad_head.{ours}", **flags)
        params += layer_norm("qa_outputs.end_logits.LayerNorm", "squad_head.end_layer_norm", **flags)
        params += dense("qa_outputs.answer_class.dense_1", "squad_head.answer_dense_1", use_bias=False, **flags)
    if hasattr(model, "logits_proj"):
        params += dense("logits_proj", "logits_proj", **flags)
    tied = {}
    if hasattr(model, "pred_layer"):
        params.append(Param("pred_layer.proj.bias", "pred_layer.bias"))
        if model.pred_layer.tie_word_embeddings:
            tied = {r"^pred_layer\.proj\.weight$": "embeddings.weight"}
        else:
            params.append(Param("pred_layer.proj.weight", "pred_layer.decoder", LINEAR))
    return WeightTable(params, tied=tied, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="transformer", is_head_model=is_head)

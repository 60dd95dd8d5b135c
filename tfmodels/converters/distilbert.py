"""DistilBERT <-> Hugging Face `DistilBertModel` / `DistilBertFor*` checkpoints.

Backbone keys `embeddings.*` and `transformer.layer.{i}.{attention.{q,k,v,out}_lin,
sa_layer_norm, ffn.lin1, ffn.lin2, output_layer_norm}` (under `distilbert.` in
head models); heads `pre_classifier` + `classifier`, `classifier`,
`qa_outputs`, `vocab_transform` + `vocab_layer_norm` + `vocab_projector` (tied).
"""

from tfmodels.converters.layer_tables import attention, bert_style_embeddings, classifier_heads, dense, feed_forward, layer_norm
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

TIED_DECODER = {r"^vocab_projector\.weight$": "embeddings.word_embeddings.weight"}
OTHER_HEAD_KEYS = (r"^vocab_", r"^pre_classifier\.", r"^classifier\.", r"^qa_outputs\.")


def distilbert_backbone(backbone):
    params = bert_style_embeddings("embeddings", "embeddings", token_types=False)
    for i in range(len(backbone.encoder_layers)):
        hf, keras = f"transformer.layer.{i}", f"encoder_layers.{i}"
        params += attention(*(f"{hf}.attention.{n}_lin" for n in ("q", "k", "v", "out")), f"{keras}.self_attention")
        params += layer_norm(f"{hf}.sa_layer_norm", f"{keras}.attention_layer_norm")
        params += feed_forward(f"{hf}.ffn.lin1", f"{hf}.ffn.lin2", f"{keras}.feed_forward")
        params += layer_norm(f"{hf}.output_layer_norm", f"{keras}.output_layer_norm")
    return params


@register_weight_table("distilbert")
def distilbert_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("distilbert" if is_head else "", distilbert_backbone(backbone))
    params += classifier_heads(model, head_dense="pre_classifier", head_out="classifier")
    tied = {}
    if hasattr(model, "lm_head"):
        params += [
            *dense("vocab_transform", "lm_head.dense"),
            *layer_norm("vocab_layer_norm", "lm_head.layer_norm"),
            Param("vocab_projector.bias", "lm_head.bias"),
        ]
        if not model.lm_head.tie_word_embeddings:
            params.append(Param("vocab_projector.weight", "lm_head.decoder", LINEAR))
        else:
            tied = TIED_DECODER
    return WeightTable(params, tied=tied, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="distilbert", is_head_model=is_head)

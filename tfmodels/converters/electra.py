"""ELECTRA <-> Hugging Face `ElectraModel` / `ElectraFor*` checkpoints.

BERT's backbone layout under `electra.` plus `embeddings_project` (when
`embedding_size != hidden_size`); heads `classifier.{dense,out_proj}`,
`classifier`, `qa_outputs`, `sequence_summary.summary` + `classifier`
(multiple choice), `discriminator_predictions.{dense,dense_prediction}`,
`generator_predictions.{dense,LayerNorm}` + `generator_lm_head` (tied).
"""

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.layer_tables import classifier_heads, dense, layer_norm
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

TIED_DECODER = {r"^generator_lm_head\.weight$": "embeddings.word_embeddings.weight"}
OTHER_HEAD_KEYS = (r"^generator_", r"^discriminator_predictions\.", r"^classifier\.", r"^qa_outputs\.",
                   r"^sequence_summary\.")


def electra_backbone(backbone):
    params = bert_backbone(backbone)
    if backbone.embeddings.projection is not None:
        params += dense("embeddings_project", "embeddings.projection")
    return params


@register_weight_table("electra")
def electra_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("electra" if is_head else "", electra_backbone(backbone))
    mc = type(model).__name__ == "ElectraForMultipleChoice"
    params += classifier_heads(model, head_dense="sequence_summary.summary" if mc else None,
                               head_out="classifier" if mc else None)
    tied = {}
    if hasattr(model, "discriminator_predictions"):
        params += dense("discriminator_predictions.dense", "discriminator_predictions.dense")
        params += dense("discriminator_predictions.dense_prediction", "discriminator_predictions.out_proj")
    if hasattr(model, "lm_head"):
        params += [
            *dense("generator_predictions.dense", "lm_head.dense"),
            *layer_norm("generator_predictions.LayerNorm", "lm_head.layer_norm"),
            Param("generator_lm_head.bias", "lm_head.bias"),
        ]
        if not model.lm_head.tie_word_embeddings:
            params.append(Param("generator_lm_head.weight", "lm_head.decoder", LINEAR))
        else:
            tied = TIED_DECODER
    return WeightTable(params, tied=tied, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="electra", is_head_model=is_head)

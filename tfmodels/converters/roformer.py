"""RoFormer <-> Hugging Face `RoFormerModel` / `RoFormerFor*` checkpoints.

BERT key layout (`embeddings.*` without positions, `encoder.layer.{i}.*`,
`cls.predictions.*`) plus `embeddings_project` and the classification head
`classifier.dense` / `classifier.out_proj`. The frozen sinusoid table
`encoder.embed_positions.weight` is recomputed, not loaded.
"""

from tfmodels.converters.bert import bert_mlm_head
from tfmodels.converters.layer_tables import bert_style_block, bert_style_embeddings, classifier_heads, dense
from tfmodels.converters.mapping import WeightTable, prefixed
from tfmodels.converters.registry import register_weight_table

IGNORED_KEYS = (r"(^|\.)position_ids$", r"(^|\.)encoder\.embed_positions\.weight$",
                r"^cls\.predictions\.decoder\.weight$")
OTHER_HEAD_KEYS = (r"^cls\.", r"^classifier\.", r"^qa_outputs\.", r"^sequence_summary\.")


def roformer_backbone(backbone):
    params = bert_style_embeddings("embeddings", "embeddings", positions=False)
    if backbone.embeddings.projection is not None:
        params += dense("embeddings_project", "embeddings.projection")
    for i in range(len(backbone.encoder_layers)):
        params += bert_style_block(f"encoder.layer.{i}", f"encoder_layers.{i}")
    return params


@register_weight_table("roformer")
def roformer_table(model):
    is_head = hasattr(model, "backbone")
    backbone = model.backbone if is_head else model
    params = prefixed("roformer" if is_head else "", roformer_backbone(backbone))
    ignored = IGNORED_KEYS
    if is_head:
        if backbone.pooler is not None:  # RoFormerClassificationHead: dense -> pooler, out_proj -> classifier
            params += dense("classifier.dense", "roformer.pooler.dense", optional=True, head=True)
            params += classifier_heads(model, classifier="classifier.out_proj")
        else:
            params += classifier_heads(model)
        if hasattr(model, "lm_head"):
            params += bert_mlm_head(model)
            if not model.lm_head.tie_word_embeddings:
                ignored = IGNORED_KEYS[:2]
    return WeightTable(params, ignored_keys=ignored, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="roformer", is_head_model=is_head)

"""RoFormer <-> Hugging Face `RoFormerModel` / `RoFormerFor*` checkpoints.

BERT key layout (`embeddings.*` without positions, `encoder.layer.{i}.*`,
`cls.predictions.*`) plus `embeddings_project` and the classification head
`classifier.dense` / `classifier.out_proj`. The frozen sinusoid table
`encoder.embed_positions.weight` is recomputed, and checked against the checkpoint's.
"""

import numpy as np

from tfmodels.converters.bert import bert_mlm_head
from tfmodels.converters.buffers import recomputed_table
from tfmodels.converters.layer_tables import bert_style_block, bert_style_embeddings, classifier_heads, dense
from tfmodels.converters.mapping import WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

TIED_DECODER = {r"^cls\.predictions\.decoder\.weight$": "embeddings.word_embeddings.weight"}
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
    is_head, backbone = split_head_model(model)
    params = prefixed("roformer" if is_head else "", roformer_backbone(backbone))
    tied, ignored = {}, ()
    if is_head:
        if backbone.pooler is not None:  # RoFormerClassificationHead: dense -> pooler, out_proj -> classifier
            params += dense("classifier.dense", "roformer.pooler.dense", optional=True, head=True)
            params += classifier_heads(model, classifier="classifier.out_proj")
        else:
            params += classifier_heads(model)
        if hasattr(model, "lm_head"):
            rows, ignored = bert_mlm_head(model)
            params += rows
            tied = TIED_DECODER if model.lm_head.tie_word_embeddings else {}
    return WeightTable(params, tied=tied, ignored_keys=ignored, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="roformer",
                       is_head_model=is_head, checks=[rotary_table_check(backbone)])


def rotary_table_check(backbone):
    """`encoder.embed_positions.weight` `(max_positions, head_dim)`: `[sin | cos]` of the rotary angles.

    `transformers` loads it (a frozen `nn.Embedding`); the rotary layers
    recompute it, so loading checks the two agree.
    """

    def table(model, key):
        rotary = backbone.encoder_layers[0].self_attention.rotary if backbone.encoder_layers else None
        if rotary is None:
            return np.zeros((0, 0))
        return np.concatenate([rotary._sin, rotary._cos], axis=-1)  # (max_positions, head_dim)

    return recomputed_table(r"(^|\.)encoder\.embed_positions\.weight$", table, "rotary sinusoid table the model computes")

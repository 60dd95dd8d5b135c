"""SqueezeBERT <-> Hugging Face `SqueezeBertModel` / `SqueezeBertFor*` checkpoints.

BERT's embeddings, pooler and heads under the `transformer.` prefix; blocks
`encoder.layers.{i}.{attention.{query,key,value}, post_attention.conv1d,
intermediate.conv1d, output.conv1d}` are grouped 1x1 convolutions.
"""

from tfmodels.converters.bert import bert_table
from tfmodels.converters.layer_tables import bert_style_embeddings, dense, layer_norm
from tfmodels.converters.mapping import GROUPED_CONV1X1
from tfmodels.converters.registry import register_weight_table


def squeezebert_backbone(backbone):
    params = bert_style_embeddings("embeddings", "embeddings")
    conv = dict(kernel=GROUPED_CONV1X1)
    for i in range(len(backbone.encoder_layers)):
        hf, keras = f"encoder.layers.{i}", f"encoder_layers.{i}"
        for name in ("query", "key", "value"):
            params += dense(f"{hf}.attention.{name}", f"{keras}.self_attention.{name}_dense", **conv)
        params += dense(f"{hf}.post_attention.conv1d", f"{keras}.self_attention.output_dense", **conv)
        params += layer_norm(f"{hf}.post_attention.layernorm", f"{keras}.attention_layer_norm")
        params += dense(f"{hf}.intermediate.conv1d", f"{keras}.feed_forward.intermediate_dense", **conv)
        params += dense(f"{hf}.output.conv1d", f"{keras}.feed_forward.output_dense", **conv)
        params += layer_norm(f"{hf}.output.layernorm", f"{keras}.output_layer_norm")
    if backbone.pooler is not None:
        params += dense("pooler.dense", "pooler.dense", optional=True)
    return params


@register_weight_table("squeezebert")
def squeezebert_table(model):
    return bert_table(model, prefix="transformer", backbone_rows=squeezebert_backbone)

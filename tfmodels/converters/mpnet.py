"""MPNet <-> Hugging Face `MPNetModel` / `MPNetFor*` checkpoints.

Keys (`transformers.models.mpnet.modeling_mpnet`): `embeddings.*`,
`encoder.relative_attention_bias.weight`, `encoder.layer.{i}.attention.attn.{q,k,v,o}`,
`attention.LayerNorm`, `intermediate.dense`, `output.{dense,LayerNorm}`,
`pooler.dense` (prefixed `mpnet.` in head models); heads `classifier.dense` +
`classifier.out_proj` (sequence classification), `classifier`, `qa_outputs`,
`lm_head.*`.
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

TIED_DECODER = {r"^lm_head\.decoder\.weight$": "embeddings.word_embeddings.weight"}
OTHER_HEAD_KEYS = (r"^lm_head\.", r"^classifier\.", r"^qa_outputs\.")


def mpnet_backbone(backbone, pooler_key="pooler.dense"):
    params = bert_style_embeddings("embeddings", "embeddings", token_types=False)
    params.append(Param("encoder.relative_attention_bias.weight", "relative_attention_bias.embeddings"))
    for i in range(len(backbone.encoder_layers)):
        hf, keras = f"encoder.layer.{i}", f"encoder_layers.{i}"
        params += attention(*(f"{hf}.attention.attn.{n}" for n in "qkvo"), f"{keras}.self_attention")
        params += layer_norm(f"{hf}.attention.LayerNorm", f"{keras}.attention_layer_norm")
        params += feed_forward(f"{hf}.intermediate.dense", f"{hf}.output.dense", f"{keras}.feed_forward")
        params += layer_norm(f"{hf}.output.LayerNorm", f"{keras}.output_layer_norm")
    if backbone.pooler is not None:
        params += dense(pooler_key, "pooler.dense", optional=True)
    return params


@register_weight_table("mpnet")
def mpnet_table(model):
    is_head, backbone = split_head_model(model)
    tied, ignored = {}, ()
    sequence_head = getattr(model, "pooler_is_classifier_dense", False)
    params = prefixed("mpnet" if is_head else "", mpnet_backbone(backbone))
    if sequence_head:  # MPNetClassificationHead: dense (+ tanh) -> our pooler, out_proj -> classifier
        params = [p for p in params if not p.keras_path.startswith("mpnet.pooler.")]
        params += dense("classifier.dense", "mpnet.pooler.dense", optional=True, head=True)
        params += classifier_heads(model, classifier="classifier.out_proj")
    elif is_head:
        params += classifier_heads(model)
    if hasattr(model, "lm_head"):
        params += dense("lm_head.dense", "lm_head.dense")
        params += layer_norm("lm_head.layer_norm", "lm_head.layer_norm")
        bias, ignored = masked_lm_bias("lm_head.bias", "lm_head.decoder", "lm_head.bias",
                                       model.lm_head.tie_word_embeddings)
        params += bias
        if not model.lm_head.tie_word_embeddings:
            params.append(Param("lm_head.decoder.weight", "lm_head.decoder", LINEAR))
        else:
            tied = TIED_DECODER
    return WeightTable(params, tied=tied, ignored_keys=ignored, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="mpnet", is_head_model=is_head)

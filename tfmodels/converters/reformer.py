"""Reformer <-> Hugging Face `ReformerModel` and its heads.

Keys: `embeddings.word_embeddings`, `embeddings.position_embeddings.weights.{a}`
(axial, one broadcastable tensor per axis, kept as is) or
`embeddings.position_embeddings.embedding` (learned), per layer
`encoder.layers.{i}.attention.layer_norm`, `...attention.self_attention.
{query_key,value}` (LSH: shared query-key) or `{query,key,value}` (local),
bias-free `nn.Linear`s, `...attention.output.dense` (no bias),
`...feed_forward.layer_norm`, `...feed_forward.dense.dense`,
`...feed_forward.output.dense`; `encoder.layer_norm` over `2 * hidden_size`.
Heads: `lm_head.decoder` (masked and causal LM), `classifier.{dense,out_proj}`,
`qa_outputs`; prefix `reformer.` in head models.
"""

from tfmodels.converters.layer_tables import classifier_heads, dense, embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import LINEAR, LINEAR_FROM_HEADS, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

# `lm_head.bias`: a parameter `ReformerOnlyLMHead` keeps but never reads (its decoder has its own bias).
REFORMER_IGNORED_KEYS = (r"^lm_head\.bias$",)
REFORMER_OTHER_HEAD_KEYS = (r"^lm_head\.", r"^classifier\.", r"^qa_outputs\.")


def reformer_backbone(backbone):
    """Rows of a `ReformerModel` (without prefix)."""
    params = embedding("embeddings.word_embeddings", "word_embeddings")
    if backbone.config["axial_pos_embds"]:
        params += [Param(f"embeddings.position_embeddings.weights.{axis}", f"position_embeddings.axial_weights.{axis}")
                   for axis in range(len(backbone.config["axial_pos_shape"]))]
    else:
        params += embedding("embeddings.position_embeddings.embedding", "position_embeddings")
    for i, block in enumerate(backbone.blocks):
        hf, keras = f"encoder.layers.{i}", f"blocks.{i}"
        attn = f"{hf}.attention.self_attention"
        names = ("query_key", "value") if block.attention_type == "lsh" else ("query", "key", "value")
        targets = ("query_dense", "value_dense") if block.attention_type == "lsh" else (
            "query_dense", "key_dense", "value_dense")
        params += layer_norm(f"{hf}.attention.layer_norm", f"{keras}.attention_layer_norm")
        for name, target in zip(names, targets):
            params += dense(f"{attn}.{name}", f"{keras}.attention.{target}", kernel=LINEAR, use_bias=False)
        params += dense(f"{hf}.attention.output.dense", f"{keras}.attention.output_dense", kernel=LINEAR_FROM_HEADS,
                        use_bias=False)
        params += layer_norm(f"{hf}.feed_forward.layer_norm", f"{keras}.feed_forward_layer_norm")
        params += feed_forward(f"{hf}.feed_forward.dense.dense", f"{hf}.feed_forward.output.dense",
                               f"{keras}.feed_forward")
    return params + layer_norm("encoder.layer_norm", "layer_norm")


@register_weight_table("reformer")
def reformer_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("reformer" if is_head else "", reformer_backbone(backbone)) + classifier_heads(model)
    if hasattr(model, "lm_head"):
        params += dense("lm_head.decoder", "lm_head")
    return WeightTable(
        params,
        ignored_keys=REFORMER_IGNORED_KEYS,
        other_head_keys=REFORMER_OTHER_HEAD_KEYS,
        base_model_prefix="reformer",
        is_head_model=is_head,
    )

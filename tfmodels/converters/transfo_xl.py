"""Transformer-XL <-> Hugging Face (transformers <= 4.35) `TransfoXLModel` / `TransfoXLLMHeadModel`.

Keys: `transformer.word_emb.emb_layers.{i}.weight`, `.emb_projs.{i}`,
`transformer.layers.{i}.dec_attn.qkv_net|o_net|r_net|r_w_bias|r_r_bias|layer_norm`,
`.pos_ff.CoreNet.0|3`, `.pos_ff.layer_norm`; head `crit.cluster_weight|bias`,
`crit.out_layers.{i}.bias` (weights tied to the input embeddings),
`crit.out_projs.{i}` (the untied ones). `qkv_net.weight` `(3 N H, D)` holds the
query, key and value projections stacked: three rows share it (`QKVPart`).
The buffer `pos_emb.inv_freq` is recomputed: checked on load, written on save.
"""

import numpy as np

from tfmodels.converters.layer_tables import embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import (
    FusedPart,
    IDENTITY,
    LINEAR,
    LINEAR_FROM_HEADS,
    Param,
    WeightTable,
    prefixed,
    split_head_model,
)
from tfmodels.converters.registry import register_weight_table
from tfmodels.layers.position.sinusoidal import inverse_frequencies


def QKVPart(index, count=3):  # noqa: N802
    """Part `index` of the `count` `nn.Linear` weights stacked in `qkv_net` (load and save)."""
    return FusedPart(index, count, base=LINEAR)


OTHER_HEAD_KEYS = (r"^crit\.",)


def transfo_xl_layer(hf, keras):
    attention = f"{keras}.self_attention"
    return [
        *[Param(f"{hf}.dec_attn.qkv_net.weight", f"{attention}.{name}_dense.kernel", QKVPart(i))
          for i, name in enumerate(("query", "key", "value"))],
        Param(f"{hf}.dec_attn.o_net.weight", f"{attention}.output_dense.kernel", LINEAR_FROM_HEADS),
        Param(f"{hf}.dec_attn.r_net.weight", f"{attention}.r_kernel", LINEAR),
        Param(f"{hf}.dec_attn.r_w_bias", f"{attention}.r_w_bias", IDENTITY),
        Param(f"{hf}.dec_attn.r_r_bias", f"{attention}.r_r_bias", IDENTITY),
        *layer_norm(f"{hf}.dec_attn.layer_norm", f"{keras}.attention_layer_norm"),
        *feed_forward(f"{hf}.pos_ff.CoreNet.0", f"{hf}.pos_ff.CoreNet.3", f"{keras}.feed_forward"),
        *layer_norm(f"{hf}.pos_ff.layer_norm", f"{keras}.output_layer_norm"),
    ]


def transfo_xl_backbone(backbone):
    word_emb = backbone.word_emb
    params = []
    for i in range(len(word_emb.emb_layers)):
        params += embedding(f"word_emb.emb_layers.{i}", f"word_emb.emb_layers.{i}")
    params += [Param(f"word_emb.emb_projs.{i}", f"word_emb.emb_projs.{i}") for i in range(len(word_emb.emb_projs))]
    for i in range(len(backbone.layers_)):
        params += transfo_xl_layer(f"layers.{i}", f"layers_.{i}")
    return params


def adaptive_softmax_head(head):
    params = [Param(f"crit.out_layers.{i}.bias", f"lm_head.out_biases.{i}") for i in range(len(head.out_biases))]
    params += [Param(f"crit.out_layers.{i}.weight", f"lm_head.out_weights.{i}", LINEAR)
               for i in range(len(head.out_weights))]
    params += [Param(f"crit.out_projs.{i}", f"lm_head.out_projs.{i}") for i, p in enumerate(head.out_projs)
               if p is not None]
    if head.num_clusters:
        params += [Param("crit.cluster_weight", "lm_head.cluster_weight"),
                   Param("crit.cluster_bias", "lm_head.cluster_bias")]
    return params


@register_weight_table("transfo-xl")
def transfo_xl_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("transformer" if is_head else "", transfo_xl_backbone(backbone))
    ignored, tied = (), {}
    if hasattr(model, "lm_head"):
        params += adaptive_softmax_head(model.lm_head)
        if model.lm_head.tie_word_embeddings:  # output cluster i is input cluster i's embedding table
            tied = {rf"^crit\.out_layers\.{i}\.weight$": f"word_emb.emb_layers.{i}.weight"
                    for i in range(len(backbone.word_emb.emb_layers))}
        # Older savers store a projection the head does not have (`None`: d_proj == d_embed), which the
        # reference's head does not apply either: no effect on outputs.
        ignored = tuple(rf"^crit\.out_projs\.{i}$" for i, p in enumerate(model.lm_head.out_projs) if p is None)
    inv_freq = np.asarray(inverse_frequencies(backbone.config["d_model"]))  # (d_model / 2,)
    buffers = {("transformer." if is_head else "") + "pos_emb.inv_freq": inv_freq}
    return WeightTable(params, ignored_keys=ignored, tied=tied, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="transformer", is_head_model=is_head, buffers=buffers)

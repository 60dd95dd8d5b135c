"""CTRL <-> Hugging Face `CTRLModel` / `CTRLLMHeadModel` checkpoints.

Keys: `w` (token embeddings), `h.{i}.multi_head_attention.{Wq,Wk,Wv,dense}`,
`h.{i}.ffn.0` / `h.{i}.ffn.2`, `h.{i}.layernorm1` / `layernorm2`,
`layernorm`, prefixed `transformer.` in head models; `lm_head.weight` is
tied to `w`, `lm_head.bias` is the head's own. The sinusoidal table is
computed, not stored.
"""

from tfmodels.converters.buffers import recomputed_table
from tfmodels.converters.layer_tables import attention, embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table


CTRL_OTHER_HEAD_KEYS = (r"^lm_head\.", r"^classifier\.")


def ctrl_backbone(backbone):
    params = embedding("w", "wte")
    for i in range(len(backbone.blocks)):
        hf, keras = f"h.{i}", f"blocks.{i}"
        mha = f"{hf}.multi_head_attention"
        params += [
            *attention(f"{mha}.Wq", f"{mha}.Wk", f"{mha}.Wv", f"{mha}.dense", f"{keras}.self_attention"),
            *layer_norm(f"{hf}.layernorm1", f"{keras}.attention_layer_norm"),
            *feed_forward(f"{hf}.ffn.0", f"{hf}.ffn.2", f"{keras}.feed_forward"),
            *layer_norm(f"{hf}.layernorm2", f"{keras}.output_layer_norm"),
        ]
    return params + layer_norm("layernorm", "final_layer_norm")


@register_weight_table("ctrl")
def ctrl_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("transformer" if is_head else "", ctrl_backbone(backbone))
    if hasattr(model, "lm_head_bias"):
        params.append(Param("lm_head.bias", "lm_head_bias", head=True))
    return WeightTable(
        params,
        checks=[recomputed_table(r"(^|\.)pos_encoding$", lambda m, key: backbone._positions,
                                 "sinusoid position table the model computes")],
        tied={r"^lm_head\.weight$": "w.weight"} if hasattr(model, "lm_head_bias") else {},
        other_head_keys=CTRL_OTHER_HEAD_KEYS,
        base_model_prefix="transformer",
        is_head_model=is_head,
    )

"""GPT-Neo <-> Hugging Face `GPTNeoModel` / `GPTNeoForCausalLM` checkpoints.

Keys: `wte`, `wpe`, `h.{i}.ln_1`, `h.{i}.attn.attention.{q,k,v}_proj`
(`nn.Linear`, no bias), `h.{i}.attn.attention.out_proj`, `h.{i}.ln_2`,
`h.{i}.mlp.c_fc` / `c_proj` (`nn.Linear`), `ln_f`, prefixed `transformer.`
in head models; `lm_head` is tied. Masks (`attn.attention.bias`) are buffers.
"""

from tfmodels.converters.layer_tables import attention, embedding, feed_forward, layer_norm
import re

from tfmodels.converters.buffers import causal_mask_buffer
from tfmodels.converters.mapping import Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

# `masked_bias` (the old fill value) is read by neither `transformers` nor tfmodels; the masks are checked.
GPT_NEO_IGNORED_KEYS = (r"\.attn\.attention\.masked_bias$",)
GPT_NEO_OTHER_HEAD_KEYS = (r"^lm_head\.", r"^score\.", r"^classifier\.", r"^qa_outputs\.")


def gpt_neo_backbone(backbone):
    params = embedding("wte", "wte") + embedding("wpe", "wpe")
    for i in range(len(backbone.blocks)):
        hf, keras = f"h.{i}", f"blocks.{i}"
        attn = f"{hf}.attn.attention"
        rows = attention(f"{attn}.q_proj", f"{attn}.k_proj", f"{attn}.v_proj", f"{attn}.out_proj",
                         f"{keras}.self_attention", use_bias=False)
        rows.append(Param(f"{attn}.out_proj.bias", f"{keras}.self_attention.output_dense.bias"))
        params += [
            *layer_norm(f"{hf}.ln_1", f"{keras}.attention_layer_norm"),
            *rows,
            *layer_norm(f"{hf}.ln_2", f"{keras}.output_layer_norm"),
            *feed_forward(f"{hf}.mlp.c_fc", f"{hf}.mlp.c_proj", f"{keras}.feed_forward"),
        ]
    return params + layer_norm("ln_f", "final_layer_norm")


@register_weight_table("gpt_neo")
def gpt_neo_table(model):
    is_head, backbone = split_head_model(model)
    return WeightTable(
        prefixed("transformer" if is_head else "", gpt_neo_backbone(backbone)),
        ignored_keys=GPT_NEO_IGNORED_KEYS,
        checks=[causal_mask_buffer(r"\.attn\.attention\.bias$", window=lambda key: backbone._layer_window(
            int(re.search(r"(^|\.)h\.(\d+)\.", key).group(2))))],
        tied={r"^lm_head\.weight$": "wte.weight"} if hasattr(model, "_make_lm_head") else {},
        other_head_keys=GPT_NEO_OTHER_HEAD_KEYS,
        base_model_prefix="transformer",
        is_head_model=is_head,
    )

"""OpenAI GPT <-> Hugging Face `OpenAIGPTModel` / `OpenAIGPTLMHeadModel` checkpoints.

Keys: `tokens_embed`, `positions_embed`, `h.{i}.attn.c_attn` (fused `Conv1D`,
split like GPT-2's), `h.{i}.attn.c_proj`, `h.{i}.ln_1`, `h.{i}.mlp.c_fc`,
`h.{i}.mlp.c_proj`, `h.{i}.ln_2` (post-norm: `ln_1` follows attention),
prefixed `transformer.` in head models; `lm_head` is tied.
"""

from tfmodels.converters.gpt2 import GPT2_CAUSAL_MASK, conv1d_feed_forward, fused_qkv_attention
from tfmodels.converters.buffers import causal_mask_buffer
from tfmodels.converters.layer_tables import embedding, layer_norm
from tfmodels.converters.mapping import WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table


OPENAI_OTHER_HEAD_KEYS = (r"^lm_head\.", r"^multiple_choice_head\.", r"^score\.")


def openai_backbone(backbone):
    params = embedding("tokens_embed", "wte") + embedding("positions_embed", "wpe")
    for i in range(len(backbone.blocks)):
        hf, keras = f"h.{i}", f"blocks.{i}"
        params += [
            *fused_qkv_attention(f"{hf}.attn", f"{keras}.self_attention"),
            *layer_norm(f"{hf}.ln_1", f"{keras}.attention_layer_norm"),
            *conv1d_feed_forward(f"{hf}.mlp", f"{keras}.feed_forward"),
            *layer_norm(f"{hf}.ln_2", f"{keras}.output_layer_norm"),
        ]
    return params


@register_weight_table("openai-gpt")
def openai_table(model):
    is_head, backbone = split_head_model(model)
    return WeightTable(
        prefixed("transformer" if is_head else "", openai_backbone(backbone)),
        checks=[causal_mask_buffer(GPT2_CAUSAL_MASK)],
        tied={r"^lm_head\.weight$": "tokens_embed.weight"} if hasattr(model, "_make_lm_head") else {},
        other_head_keys=OPENAI_OTHER_HEAD_KEYS,
        base_model_prefix="transformer",
        is_head_model=is_head,
    )

"""GPT-2 <-> Hugging Face `GPT2Model` / `GPT2*` checkpoints.

Key layout of `transformers.models.gpt2.modeling_gpt2`: `wte`, `wpe`,
`h.{i}.ln_1`, `h.{i}.attn.c_attn` (one `Conv1D` `(D, 3D)` holding query, key
and value side by side: split into three rows), `h.{i}.attn.c_proj`,
`h.{i}.ln_2`, `h.{i}.mlp.c_fc`, `h.{i}.mlp.c_proj`, `ln_f`, prefixed with
`transformer.` in head models; heads `lm_head` (tied to `wte`), `score`,
`classifier`, `multiple_choice_head.summary`. `Conv1D` weights are stored
`(in, out)`, i.e. already in Keras kernel order: no transpose.
"""

from tfmodels.converters.buffers import causal_mask_buffer
from tfmodels.converters.layer_tables import dense, embedding, layer_norm
from tfmodels.converters.mapping import (
    CONV1D,
    CONV1D_FROM_HEADS,
    FLATTEN,
    Param,
    Split,
    WeightTable,
    prefixed,
    split_head_model,
)
from tfmodels.converters.registry import register_weight_table

# Old checkpoints store the causal mask (`attn.bias`, checked) and its fill value `attn.masked_bias`,
# which neither `transformers` (it uses the dtype's minimum) nor tfmodels reads: ignored.
GPT2_IGNORED_KEYS = (r"\.attn\.masked_bias$",)
GPT2_CAUSAL_MASK = r"\.attn\.bias$"
# The LM head is tied to the token embeddings (untied heads are refused at construction).
GPT2_TIED_LM_HEAD = {r"^lm_head\.weight$": "wte.weight"}
GPT2_OTHER_HEAD_KEYS = (r"^lm_head\.", r"^score\.", r"^classifier\.", r"^multiple_choice_head\.", r"^qa_outputs\.")


def fused_qkv_attention(hf, keras, kernel_inner=CONV1D, output_kernel=CONV1D_FROM_HEADS, axis=-1):
    """A fused `[q | k | v]` projection `hf.c_attn` + `hf.c_proj` <-> `MultiHeadAttention`.

    Args:
        axis: concatenation axis of the fused weight in the checkpoint
            layout (`-1` for `Conv1D` `(in, 3 out)`, `0` for `nn.Linear`
            `(3 out, in)`).
    """
    params = []
    for index, name in enumerate(("query_dense", "key_dense", "value_dense")):
        params.append(Param(f"{hf}.c_attn.weight", f"{keras}.{name}.kernel", Split(kernel_inner, index, 3, axis)))
        params.append(Param(f"{hf}.c_attn.bias", f"{keras}.{name}.bias", Split(FLATTEN, index, 3, -1)))
    params += dense(f"{hf}.c_proj", f"{keras}.output_dense", kernel=output_kernel)
    return params


def conv1d_feed_forward(hf, keras):
    """`hf.c_fc` / `hf.c_proj` `Conv1D`s <-> `FeedForward`."""
    return [
        *dense(f"{hf}.c_fc", f"{keras}.intermediate_dense", kernel=CONV1D),
        *dense(f"{hf}.c_proj", f"{keras}.output_dense", kernel=CONV1D),
    ]


def gpt2_block(hf, keras):
    return [
        *layer_norm(f"{hf}.ln_1", f"{keras}.attention_layer_norm"),
        *fused_qkv_attention(f"{hf}.attn", f"{keras}.self_attention"),
        *layer_norm(f"{hf}.ln_2", f"{keras}.output_layer_norm"),
        *conv1d_feed_forward(f"{hf}.mlp", f"{keras}.feed_forward"),
    ]


def gpt2_backbone(backbone):
    params = embedding("wte", "wte") + embedding("wpe", "wpe")
    for i in range(len(backbone.blocks)):
        params += gpt2_block(f"h.{i}", f"blocks.{i}")
    return params + layer_norm("ln_f", "final_layer_norm")


def decoder_head_rows(model):
    """Rows of the decoder task heads a model has (`score`, `classifier`, multiple choice)."""
    flags = dict(optional=True, head=True)
    params = []
    if hasattr(model, "score"):
        params += dense("score", "score", use_bias=False, **flags)
    if hasattr(model, "classifier"):
        params += dense("classifier", "classifier", **flags)
    if getattr(model, "multiple_choice_summary", None) is not None:
        params += dense("multiple_choice_head.summary", "multiple_choice_summary", **flags)
    return params


@register_weight_table("gpt2")
def gpt2_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("transformer" if is_head else "", gpt2_backbone(backbone))
    params += decoder_head_rows(model)
    return WeightTable(
        params,
        ignored_keys=GPT2_IGNORED_KEYS,
        checks=[causal_mask_buffer(GPT2_CAUSAL_MASK)],
        tied=GPT2_TIED_LM_HEAD if hasattr(model, "_make_lm_head") else {},
        other_head_keys=GPT2_OTHER_HEAD_KEYS,
        base_model_prefix="transformer",
        is_head_model=is_head,
    )

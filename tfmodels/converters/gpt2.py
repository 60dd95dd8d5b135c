"""GPT-2 <-> Hugging Face `GPT2Model` / `GPT2*` checkpoints.

Key layout of `transformers.models.gpt2.modeling_gpt2`: `wte`, `wpe`,
`h.{i}.ln_1`, `h.{i}.attn.c_attn` (one `Conv1D` `(D, 3D)` holding query, key
and value side by side: split into three rows), `h.{i}.attn.c_proj`,
`h.{i}.ln_2`, `h.{i}.mlp.c_fc`, `h.{i}.mlp.c_proj`, `ln_f`, prefixed with
`transformer.` in head models; heads `lm_head` (tied to `wte`), `score`,
`classifier`, `multiple_choice_head.summary`. `Conv1D` weights are stored
`(in, out)`, i.e. already in Keras kernel order: no transpose.
"""

import dataclasses

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
GPT2_IGNORED_KEYS = (r"\.attn\.masked_bias$", r"\.crossattention\.masked_bias$")
GPT2_CAUSAL_MASK = r"\.attn\.bias$"
# Old cross-attention checkpoints store the same (unused: cross-attention is not causal) triangle
# buffer; `transformers` ignores it on loading (`_keys_to_ignore_on_load_unexpected`), as we do.
GPT2_IGNORED_KEYS += (r"\.crossattention\.bias$",)
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


def cross_attention_rows(hf, keras):
    """GPT-2's `crossattention` (`q_attn` `(D, D)`, `c_attn` = [key | value] `(D, 2D)`, `c_proj`) and
    `ln_cross_attn` <-> `TransformerDecoderBlock.cross_attention` + `cross_attention_layer_norm`.
    Optional rows: a GPT-2 checkpoint without cross-attention (`EncoderDecoderModel.from_encoder_decoder_pretrained`)
    leaves them newly initialised, with a warning, as `transformers` does."""
    params = [*layer_norm(f"{hf}.ln_cross_attn", f"{keras}.cross_attention_layer_norm"),
              *dense(f"{hf}.crossattention.q_attn", f"{keras}.cross_attention.query_dense", kernel=CONV1D,
                     bias=FLATTEN)]
    for index, name in enumerate(("key_dense", "value_dense")):
        params.append(Param(f"{hf}.crossattention.c_attn.weight", f"{keras}.cross_attention.{name}.kernel",
                            Split(CONV1D, index, 2, -1)))
        params.append(Param(f"{hf}.crossattention.c_attn.bias", f"{keras}.cross_attention.{name}.bias",
                            Split(FLATTEN, index, 2, -1)))
    params += dense(f"{hf}.crossattention.c_proj", f"{keras}.cross_attention.output_dense", kernel=CONV1D_FROM_HEADS)
    return [dataclasses.replace(p, optional=True) for p in params]


def gpt2_block(hf, keras, cross_attention=False):
    return [
        *layer_norm(f"{hf}.ln_1", f"{keras}.attention_layer_norm"),
        *fused_qkv_attention(f"{hf}.attn", f"{keras}.self_attention"),
        *(cross_attention_rows(hf, keras) if cross_attention else ()),
        *layer_norm(f"{hf}.ln_2", f"{keras}.output_layer_norm"),
        *conv1d_feed_forward(f"{hf}.mlp", f"{keras}.feed_forward"),
    ]


def gpt2_backbone(backbone):
    params = embedding("wte", "wte") + embedding("wpe", "wpe")
    for i, block in enumerate(backbone.blocks):
        params += gpt2_block(f"h.{i}", f"blocks.{i}", cross_attention=hasattr(block, "cross_attention"))
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

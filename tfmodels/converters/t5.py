"""T5 / mT5 <-> Hugging Face `T5Model`, `T5ForConditionalGeneration`, `T5EncoderModel` (and `MT5*`).

Key layout of `transformers.models.t5.modeling_t5` (no backbone prefix):
`shared`; per stack (`encoder`, `decoder`) `block.{i}.layer.0.SelfAttention.{q,k,v,o}`
(bias-free `nn.Linear`s) and `layer.0.layer_norm`; decoder blocks add
`layer.1.EncDecAttention.{q,k,v,o}` + `layer.1.layer_norm`; the feed-forward is
the last sub-layer (`layer.1` in the encoder, `layer.2` in the decoder):
`DenseReluDense.{wi,wo}` or, gated, `DenseReluDense.{wi_0,wi_1,wo}`, and its
`layer_norm`; `block.0.layer.0.SelfAttention.relative_attention_bias` (the one
bias table of the stack, `(num_buckets, num_heads)`, an `nn.Embedding`
stored as ours); `final_layer_norm`; `lm_head` (without bias).

Tied copies: `encoder.embed_tokens` / `decoder.embed_tokens` are `shared`
(ignored); `lm_head.weight` is ignored when the head is tied, and when it is
untied a checkpoint without it (transformers 5 writes none when the values
are equal) loads `shared.weight` into it, as transformers ties them.
"""

from tfmodels.converters.layer_tables import attention, dense, embedding
from tfmodels.converters.mapping import LINEAR, Param, WeightTable
from tfmodels.converters.registry import register_weight_table

TIED_KEYS = (r"^(encoder|decoder)\.embed_tokens\.weight$",)
# A cross-attention bias table transformers never uses (`_keys_to_ignore_on_load_unexpected`).
UNUSED_KEYS = (r"^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$",)
TIED_HEAD_KEYS = (r"^lm_head\.weight$",)
OTHER_HEAD_KEYS = (r"^lm_head\.", r"^decoder\.")


def rms_norm(hf, keras):
    """T5LayerNorm `weight` <-> `RMSNormalization` `gamma`."""
    return [Param(f"{hf}.weight", f"{keras}.gamma")]


def t5_feed_forward(hf, keras, gated):
    names = ("wi_0", "wi_1", "wo") if gated else ("wi", None, "wo")
    params = dense(f"{hf}.DenseReluDense.{names[0]}", f"{keras}.feed_forward.intermediate_dense", use_bias=False)
    if gated:
        params += dense(f"{hf}.DenseReluDense.{names[1]}", f"{keras}.feed_forward.linear_dense", use_bias=False)
    params += dense(f"{hf}.DenseReluDense.wo", f"{keras}.feed_forward.output_dense", use_bias=False)
    return params + rms_norm(f"{hf}.layer_norm", f"{keras}.output_layer_norm")


def t5_attention(hf, keras, module):
    return attention(*(f"{hf}.{module}.{n}" for n in "qkvo"), keras, use_bias=False)


def t5_stack(stack, blocks, gated, is_decoder):
    """Rows of one stack (`stack` = `"encoder"` or `"decoder"`) with Keras blocks `blocks` (attribute name)."""
    params = [Param(f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                    f"{stack}_position_bias.embeddings")]
    for i in range(len(blocks)):
        hf, keras = f"{stack}.block.{i}", f"{stack}_blocks.{i}"
        params += t5_attention(f"{hf}.layer.0", f"{keras}.self_attention", "SelfAttention")
        params += rms_norm(f"{hf}.layer.0.layer_norm", f"{keras}.attention_layer_norm")
        if is_decoder:
            params += t5_attention(f"{hf}.layer.1", f"{keras}.cross_attention", "EncDecAttention")
            params += rms_norm(f"{hf}.layer.1.layer_norm", f"{keras}.cross_attention_layer_norm")
        params += t5_feed_forward(f"{hf}.layer.{2 if is_decoder else 1}", keras, gated)
    return params + rms_norm(f"{stack}.final_layer_norm", f"{stack}_final_layer_norm")


@register_weight_table("t5")
@register_weight_table("mt5")
def t5_table(model):
    gated = model.encoder_blocks[0].feed_forward.gated if model.encoder_blocks else False
    params = embedding("shared", "shared") + t5_stack("encoder", model.encoder_blocks, gated, False)
    ignored = TIED_KEYS + UNUSED_KEYS
    if model.has_decoder:
        params += t5_stack("decoder", model.decoder_blocks, gated, True)
    lm_head = getattr(model, "lm_head", None)
    if lm_head is not None:
        params.append(Param("lm_head.weight", "lm_head.kernel", LINEAR, aliases=("shared.weight",)))
    elif hasattr(model, "lm_head"):
        ignored += TIED_HEAD_KEYS
    return WeightTable(params, ignored_keys=ignored, other_head_keys=OTHER_HEAD_KEYS if not model.has_decoder
                       else OTHER_HEAD_KEYS[:1])

"""BART family <-> Hugging Face `BartModel` and its heads (`MBart*`, `Marian*`, `Pegasus*`, `Blenderbot*`,
`BlenderbotSmall*`, `M2M100*`, `FSMT*` too).

Key layout of `transformers.models.bart.modeling_bart` (backbone keys under
`model.` in head checkpoints): `shared`; per stack (`encoder`, `decoder`)
`embed_positions` (learned, `max_position_embeddings + 2` rows),
`layernorm_embedding`, `layer_norm` (mBART's final norm), and
`layers.{i}.self_attn.{q,k,v,out}_proj` + `self_attn_layer_norm`, decoder
layers also `encoder_attn.{q,k,v,out}_proj` + `encoder_attn_layer_norm`,
then `fc1`, `fc2`, `final_layer_norm` (the feed-forward's norm). Heads:
`lm_head` + `final_logits_bias` (a buffer `(1, V)`),
`classification_head.{dense,out_proj}`, `qa_outputs`. `BartForCausalLM`
keeps the decoder under `model.decoder.` and its token table there
(`model.decoder.embed_tokens`).

Tied copies: `{encoder,decoder}.embed_tokens` equal `shared` and a tied
`lm_head.weight` equals the decoder's token table; loading verifies them,
saving leaves them out (transformers re-ties them). Marian and Pegasus store
their fixed sinusoid tables as `{encoder,decoder}.embed_positions.weight`:
loading compares them with the table the model computes, saving writes it.
Blenderbot/BlenderbotSmall learn `max_position_embeddings` rows (no offset);
M2M100 keeps its sinusoid table out of the state dict (a non-persistent
buffer) and has no `final_logits_bias`.

FSMT: `encoder.embed_tokens` (source vocabulary, our `shared`),
`decoder.embed_tokens` (target), `decoder.output_projection` (the LM head,
inside the decoder), and both sinusoid tables stored as parameters
(`{encoder,decoder}.embed_positions.weight`, `max_position_embeddings +
pad_token_id + 1` rows): they are loaded into frozen variables (the
reference computes them in float32, whose `exp` differs from NumPy's by an
ulp: recomputing would not match to the bit). With `tie_word_embeddings`
only `decoder.embed_tokens` is stored; the encoder table and the output
projection are its tied copies.
"""

from tfmodels.converters.layer_tables import attention, classifier_heads, dense, embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

OTHER_HEAD_KEYS = (r"^lm_head\.", r"^final_logits_bias$", r"^classification_head\.", r"^qa_outputs\.")


def bart_block(hf, keras, is_decoder, use_bias=True, self_attention=None):
    """One `BartEncoderLayer` / `BartDecoderLayer` <-> `TransformerEncoderBlock` / `TransformerDecoderBlock`.

    `use_bias`: attention projections with biases; `self_attention`: the self-attention's
    `(query, key, value, output)` module names under `hf` (default `self_attn.{q,k,v,out}_proj`).
    """
    names = self_attention or tuple(f"self_attn.{n}_proj" for n in ("q", "k", "v", "out"))
    params = attention(*(f"{hf}.{n}" for n in names), f"{keras}.self_attention", use_bias=use_bias)
    params += layer_norm(f"{hf}.self_attn_layer_norm", f"{keras}.attention_layer_norm")
    if is_decoder:
        params += attention(*(f"{hf}.encoder_attn.{n}_proj" for n in "qkv"), f"{hf}.encoder_attn.out_proj",
                            f"{keras}.cross_attention", use_bias=use_bias)
        params += layer_norm(f"{hf}.encoder_attn_layer_norm", f"{keras}.cross_attention_layer_norm")
    params += feed_forward(f"{hf}.fc1", f"{hf}.fc2", f"{keras}.feed_forward")
    return params + layer_norm(f"{hf}.final_layer_norm", f"{keras}.output_layer_norm")


def bart_stack(model, stack, hf=None, block_rows=bart_block, final_norm="layer_norm"):
    """Rows of one stack of the flat backbone `model`; `hf` is its checkpoint prefix (default `stack`),
    `block_rows(hf, keras, is_decoder)` a block's rows (LED's encoder blocks differ), `final_norm` the
    module name of the stack's final norm (BigBirdPegasus: `layernorm_embedding`)."""
    hf = hf or stack
    params = []
    if model.stored_position_tables or not model.sinusoidal_positions:
        params += embedding(f"{hf}.embed_positions", f"{stack}_embed_positions")
    if model.layernorm_embedding:
        params += layer_norm(f"{hf}.layernorm_embedding", f"{stack}_layernorm_embedding")
    for i in range(len(getattr(model, f"{stack}_blocks"))):
        params += block_rows(f"{hf}.layers.{i}", f"{stack}_blocks.{i}", stack == "decoder")
    if model.final_layer_norms:
        params += layer_norm(f"{hf}.{final_norm}", f"{stack}_layer_norm")
    return params


def token_tables(model):
    """The token rows and the tied copies `{pattern: source key}` of a backbone, unprefixed.

    Marian with `share_encoder_decoder_embeddings=False` has no `shared`: its
    encoder table is `encoder.embed_tokens` (our `shared`), the decoder's
    `decoder.embed_tokens`; so has FSMT, plus its `decoder.output_projection`
    (tied FSMT stores `decoder.embed_tokens` alone).
    """
    if model.model_type == "fsmt":
        if model.output_projection is None:
            tied = {r"(^|\.)(encoder\.embed_tokens|decoder\.output_projection)\.weight$": "decoder.embed_tokens.weight"}
            return embedding("decoder.embed_tokens", "shared"), tied, None
        params = embedding("encoder.embed_tokens", "shared") + embedding("decoder.embed_tokens", "decoder_embed_tokens")
        return params + [Param("decoder.output_projection.weight", "output_projection.kernel", LINEAR)], {}, None
    if getattr(model, "decoder_embed_tokens", None) is not None:
        return (embedding("encoder.embed_tokens", "shared") + embedding("decoder.embed_tokens", "decoder_embed_tokens"),
                {}, "decoder.embed_tokens.weight")
    return embedding("shared", "shared"), {r"(^|\.)(encoder|decoder)\.embed_tokens\.weight$": "shared.weight"}, \
        "shared.weight"


def sinusoid_buffers(model, prefix=""):
    """The stored sinusoid tables (Marian, Pegasus) `{key: (max_position_embeddings, d_model)}`: verified, saved."""
    if not model.sinusoidal_positions or model.stored_position_tables or model.padding_offset_positions:
        return {}  # no table, a loaded one (FSMT), or one the reference does not store (M2M100)
    table = model.decoder_embed_positions.table
    stacks = ("encoder", "decoder") if model.has_encoder else ("decoder",)
    return {f"{prefix}{stack}.embed_positions.weight": table for stack in stacks}


def bart_backbone(model, block_rows=bart_block, final_norm="layer_norm"):
    """Rows of `BartModel` (or a variant), unprefixed."""
    return (bart_stack(model, "encoder", block_rows=block_rows, final_norm=final_norm)
            + bart_stack(model, "decoder", block_rows=block_rows, final_norm=final_norm))


@register_weight_table("bart")
@register_weight_table("mbart")
@register_weight_table("marian")
@register_weight_table("pegasus")
@register_weight_table("blenderbot")
@register_weight_table("blenderbot-small")
@register_weight_table("m2m_100")
@register_weight_table("fsmt")
def bart_table(model, prefix="model", block_rows=bart_block, final_norm="layer_norm"):
    """The BART-family table; LED passes its prefix (`led`) and block rows, BigBirdPegasus its block
    rows and final-norm name."""
    if not getattr(model, "has_encoder", True):  # BartForCausalLM
        return causal_lm_table(model)
    is_head, backbone = split_head_model(model)
    tokens, tied, decoder_table = token_tables(backbone)
    params = prefixed(prefix if is_head else "", tokens + bart_backbone(backbone, block_rows, final_norm))
    if hasattr(model, "lm_logits") and decoder_table is not None:  # a conditional-generation head (not FSMT's)
        if model.final_logits_bias is not None:  # missing in old checkpoints
            params.append(Param("final_logits_bias", "final_logits_bias", optional=True))
        if model.lm_head is None:
            tied[r"^lm_head\.weight$"] = decoder_table
        else:
            params.append(Param("lm_head.weight", "lm_head.kernel", LINEAR))
    params += classifier_heads(model, head_dense="classification_head.dense",
                               head_out="classification_head.out_proj")
    return WeightTable(params, tied=tied, other_head_keys=OTHER_HEAD_KEYS, base_model_prefix=prefix,
                       is_head_model=is_head, buffers=sinusoid_buffers(backbone, f"{prefix}." if is_head else ""))


def causal_lm_table(model):
    """`BartForCausalLM`: the decoder under `model.decoder.`, its token table `model.decoder.embed_tokens`.

    It also loads the decoder of a `BartModel` (`decoder.*`: the prefix is adapted) or
    `BartForConditionalGeneration` checkpoint; their encoder and other heads' keys are reported
    unused. transformers 5 saves those without `decoder.embed_tokens` (tied to `shared`), so the
    token table is then read from `shared`, the tensor the decoder used (transformers itself
    leaves it newly initialised and reports `shared` unused).
    """
    params = embedding("model.decoder.embed_tokens", "shared", aliases=("model.shared.weight",))
    params += bart_stack(model, "decoder", "model.decoder")
    tied = {}
    if model.lm_head is None:
        tied[r"^lm_head\.weight$"] = "model.decoder.embed_tokens.weight"
    else:
        params += dense("lm_head", "lm_head", use_bias=False)
    other = (r"^(model\.)?encoder\.", r"^(model\.)?shared\.", *OTHER_HEAD_KEYS[1:])
    return WeightTable(params, tied=tied, buffers=sinusoid_buffers(model, "model."), other_head_keys=other,
                       base_model_prefix="model", is_head_model=True)

"""ProphetNet / XLM-ProphetNet <-> Hugging Face `ProphetNet*` / `XLMProphetNet*`.

Key layout of `transformers.models.prophetnet.modeling_prophetnet` (under
`prophetnet.` in `ProphetNetForConditionalGeneration` / `ForCausalLM`
checkpoints, without prefix in `ProphetNetModel`, and without the stack's
prefix in the standalone `ProphetNetEncoder` / `ProphetNetDecoder`):
`word_embeddings`; per stack `position_embeddings` (`max_position_embeddings`
rows), `embeddings_layer_norm`, `layers.{i}.self_attn.{query,key,value,out}_proj`
+ `self_attn_layer_norm`, `feed_forward.{intermediate,output}` +
`feed_forward_layer_norm`; the decoder also `ngram_embeddings` (`ngram`
rows), `layers.{i}.self_attn.relative_pos_embeddings` (`D -> num_buckets *
heads`) and, with `add_cross_attention`, `layers.{i}.cross_attn.*_proj` +
`cross_attn_layer_norm`. Tied copies: the stacks' `word_embeddings` equal the
model's, a tied `lm_head.weight` equals `word_embeddings`; loading verifies
them, saving leaves them out.
"""

from tfmodels.converters.layer_tables import attention, dense, embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

_PROJECTIONS = ("query", "key", "value", "out")


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _attention(hf, keras):
    return attention(*(f"{hf}.{n}_proj" for n in _PROJECTIONS), keras)


def _block_rows(layer, block):
    """The rows every ProphetNet layer has: self-attention projections, feed-forward, their norms."""
    params = _attention(f"{layer}.self_attn", f"{block}.self_attention")
    params += layer_norm(f"{layer}.self_attn_layer_norm", f"{block}.attention_layer_norm")
    params += feed_forward(f"{layer}.feed_forward.intermediate", f"{layer}.feed_forward.output",
                           f"{block}.feed_forward")
    return params + layer_norm(f"{layer}.feed_forward_layer_norm", f"{block}.output_layer_norm")


def encoder_rows(model, hf="encoder"):
    """Rows of the encoder stack of `model` (flat attributes `encoder_*`); `hf` is its checkpoint prefix."""
    params = embedding(_join(hf, "position_embeddings"), "encoder_position_embeddings")
    params += layer_norm(_join(hf, "embeddings_layer_norm"), "encoder_embeddings_layer_norm")
    for i in range(len(model.encoder_blocks)):
        params += _block_rows(_join(hf, f"layers.{i}"), f"encoder_blocks.{i}")
    return params


def decoder_rows(model, hf="decoder"):
    """Rows of the n-gram decoder stack of `model` (flat attributes `decoder_*`, `ngram_embeddings`)."""
    params = embedding(_join(hf, "position_embeddings"), "decoder_position_embeddings")
    params += embedding(_join(hf, "ngram_embeddings"), "ngram_embeddings")
    params += layer_norm(_join(hf, "embeddings_layer_norm"), "decoder_embeddings_layer_norm")
    for i, decoder_block in enumerate(model.decoder_blocks):
        layer, block = _join(hf, f"layers.{i}"), f"decoder_blocks.{i}"
        params += _block_rows(layer, block)
        params += dense(f"{layer}.self_attn.relative_pos_embeddings", f"{block}.self_attention.relative_pos_embeddings")
        if decoder_block.add_cross_attention:
            params += _attention(f"{layer}.cross_attn", f"{block}.cross_attention")
            params += layer_norm(f"{layer}.cross_attn_layer_norm", f"{block}.cross_attention_layer_norm")
    return params


def _lm_head(model, tied, source):
    if model.lm_head is None:
        tied[r"^lm_head\.weight$"] = source
        return []
    return [Param("lm_head.weight", "lm_head.kernel", LINEAR)]


@register_weight_table("prophetnet")
@register_weight_table("xlm-prophetnet")
def prophetnet_table(model):
    """The table of every ProphetNet class (which stacks it has and where its keys live)."""
    is_head, backbone = split_head_model(model)
    if not backbone.has_encoder:  # ProphetNetDecoder, ProphetNetForCausalLM
        if not hasattr(model, "lm_head"):
            return WeightTable(embedding("word_embeddings", "word_embeddings") + decoder_rows(model, ""))
        tied = {r"^prophetnet\.decoder\.word_embeddings\.weight$": "prophetnet.word_embeddings.weight"}
        params = embedding("prophetnet.word_embeddings", "word_embeddings") + decoder_rows(model, "prophetnet.decoder")
        params += _lm_head(model, tied, "prophetnet.word_embeddings.weight")
        return WeightTable(params, tied=tied, other_head_keys=(r"^prophetnet\.encoder\.",),
                           base_model_prefix="prophetnet", is_head_model=True)
    if not backbone.has_decoder:  # ProphetNetEncoder
        return WeightTable(embedding("word_embeddings", "word_embeddings") + encoder_rows(model, ""))
    prefix = "prophetnet" if is_head else ""
    params = prefixed(prefix, embedding("word_embeddings", "word_embeddings") + encoder_rows(backbone)
                      + decoder_rows(backbone))
    tied = {r"(^|\.)(encoder|decoder)\.word_embeddings\.weight$": _join(prefix, "word_embeddings.weight")}
    if is_head:
        params += _lm_head(model, tied, "prophetnet.word_embeddings.weight")
    return WeightTable(params, tied=tied, other_head_keys=(r"^lm_head\.",), base_model_prefix="prophetnet",
                       is_head_model=is_head)

"""T5 / mT5 <-> Hugging Face `T5Model`, `T5ForConditionalGeneration`, `T5EncoderModel` (and `MT5*`), and the
T5 task heads: `T5ForSequenceClassification` / `T5ForTokenClassification` hold their backbone under
`transformer.` with `classification_head.{dense,out_proj}` / `classifier`; `T5ForQuestionAnswering` keeps
the unprefixed layout with `qa_outputs`. Either layout loads into every class (the prefix is added or
stripped); an encoder-decoder refuses a checkpoint without a decoder (strict, where transformers would
leave the decoder random).

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

from tfmodels.converters.layer_tables import attention, classifier_heads, dense, embedding
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed
from tfmodels.converters.registry import register_weight_table
from tfmodels.models.t5.modeling import parse_feed_forward_proj

# Backbone keys may sit under `transformer.` (sequence / token classification checkpoints).
TIED_KEYS = (r"^(transformer\.)?(encoder|decoder)\.embed_tokens\.weight$",)
# A cross-attention bias table transformers never uses (`_keys_to_ignore_on_load_unexpected`).
UNUSED_KEYS = (r"^(transformer\.)?decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$",)
TIED_HEAD_KEYS = (r"^lm_head\.weight$",)
# Other heads' weights: the LM head, the classifiers, the span head.
LM_HEAD_KEYS = (r"^lm_head\.", r"^classification_head\.", r"^classifier\.", r"^qa_outputs\.")
DECODER_KEYS = (r"^(transformer\.)?decoder\.",)  # in T5EncoderModel: the decoder of a full checkpoint
HEAD_PREFIX = "transformer"


def rms_norm(hf, keras):
    """T5LayerNorm `weight` <-> `RMSNormalization` `gamma`."""
    return [Param(f"{hf}.weight", f"{keras}.gamma")]


def t5_feed_forward(hf, keras, gated):
    """`DenseReluDense` (`wi`, `wo`) or gated (`wi_0` activated, `wi_1` linear, `wo`) + its norm <-> `FeedForward`."""
    ff, target = f"{hf}.DenseReluDense", f"{keras}.feed_forward"
    params = dense(f"{ff}.wi_0" if gated else f"{ff}.wi", f"{target}.intermediate_dense", use_bias=False)
    if gated:
        params += dense(f"{ff}.wi_1", f"{target}.linear_dense", use_bias=False)
    params += dense(f"{ff}.wo", f"{target}.output_dense", use_bias=False)
    return params + rms_norm(f"{hf}.layer_norm", f"{keras}.output_layer_norm")


def t5_attention(hf, keras, module):
    return attention(*(f"{hf}.{module}.{n}" for n in "qkvo"), keras, use_bias=False)


def t5_stack(stack, num_blocks, gated, is_decoder):
    """Rows of one stack, `stack` = `"encoder"` or `"decoder"` (also the prefix of our attribute names)."""
    params = [Param(f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                    f"{stack}_position_bias.embeddings")]
    for i in range(num_blocks):
        hf, keras = f"{stack}.block.{i}", f"{stack}_blocks.{i}"
        params += t5_attention(f"{hf}.layer.0", f"{keras}.self_attention", "SelfAttention")
        params += rms_norm(f"{hf}.layer.0.layer_norm", f"{keras}.attention_layer_norm")
        if is_decoder:
            params += t5_attention(f"{hf}.layer.1", f"{keras}.cross_attention", "EncDecAttention")
            params += rms_norm(f"{hf}.layer.1.layer_norm", f"{keras}.cross_attention_layer_norm")
        params += t5_feed_forward(f"{hf}.layer.{2 if is_decoder else 1}", keras, gated)
    return params + rms_norm(f"{stack}.final_layer_norm", f"{stack}_final_layer_norm")


def _hf_head_name(model):
    """The checkpoint module of the model's task head: `classification_head`, `classifier`, `qa_outputs` or None."""
    if hasattr(model, "qa_outputs"):
        return "qa_outputs"
    classifier = getattr(model, "classifier", None)
    if classifier is None:
        return None
    return "classification_head" if hasattr(classifier, "out_proj") else "classifier"


@register_weight_table("t5")
@register_weight_table("mt5")
def t5_table(model):
    backbone = getattr(model, "backbone", model)  # the classification heads wrap a T5Model / T5EncoderModel
    is_head = backbone is not model
    _, gated = parse_feed_forward_proj(backbone.config["feed_forward_proj"])
    params = embedding("shared", "shared") + t5_stack("encoder", len(backbone.encoder_blocks), gated, False)
    ignored = TIED_KEYS + UNUSED_KEYS
    if backbone.has_decoder:
        params += t5_stack("decoder", len(backbone.decoder_blocks), gated, True)
    lm_head = getattr(model, "lm_head", None)
    if lm_head is not None:
        params.append(Param("lm_head.weight", "lm_head.kernel", LINEAR, aliases=("shared.weight",)))
    elif hasattr(model, "lm_head"):
        ignored += TIED_HEAD_KEYS
    if is_head:
        params = prefixed(HEAD_PREFIX, params)
    head = _hf_head_name(model)
    params += classifier_heads(model, classifier=head)
    other_heads = tuple(k for k in LM_HEAD_KEYS if k != f"^{head}\\.")
    other_heads += () if backbone.has_decoder else DECODER_KEYS
    return WeightTable(params, ignored_keys=ignored, other_head_keys=other_heads,
                       base_model_prefix=HEAD_PREFIX, is_head_model=is_head)

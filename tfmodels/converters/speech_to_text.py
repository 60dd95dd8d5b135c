"""Speech2Text <-> Hugging Face `Speech2TextModel` / `Speech2TextForConditionalGeneration`.

Key layout of `transformers.models.speech_to_text.modeling_speech_to_text` (under `model.` in
the LM checkpoint): `encoder.conv.conv_layers.{i}.{weight,bias}` (the subsampler's
`nn.Conv1d`s), `encoder.layers.{i}.*` and `decoder.layers.{i}.*` (BART's layer keys, read by
`tfmodels.converters.bart.bart_stack`), `encoder.layer_norm` / `decoder.layer_norm` (the final
norms), `decoder.embed_tokens` (our `shared`; the encoder has no token table), and `lm_head`.

- `nn.Conv1d` weights `(out, in, k)` -> Keras kernels `(k, in, out)` (`TORCH_CONV1D`): Keras
  convolves channels-last.
- The sinusoid position tables are non-persistent buffers: in no checkpoint, recomputed.
- A tied `lm_head.weight` (the default) equals `decoder.embed_tokens.weight`: verified when a
  checkpoint has it, not saved (transformers re-ties it); `tie_word_embeddings=False` stores it.
"""

from tfmodels.converters.bart import bart_stack
from tfmodels.converters.layer_tables import dense, embedding
from tfmodels.converters.mapping import LINEAR, TORCH_CONV1D, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table


def speech_to_text_backbone(backbone):
    """Rows of a `Speech2TextModel` (unprefixed keys)."""
    params = embedding("decoder.embed_tokens", "shared")
    for i in range(len(backbone.conv.conv_layers)):
        params += dense(f"encoder.conv.conv_layers.{i}", f"conv.conv_layers.{i}", kernel=TORCH_CONV1D)
    return params + bart_stack(backbone, "encoder") + bart_stack(backbone, "decoder")


@register_weight_table("speech_to_text")
def speech_to_text_table(model):
    """The table of `Speech2TextModel` and `Speech2TextForConditionalGeneration`."""
    is_head, backbone = split_head_model(model)
    params = prefixed("model" if is_head else "", speech_to_text_backbone(backbone))
    tied = {}
    if is_head:
        if model.lm_head is None:
            tied[r"^lm_head\.weight$"] = "model.decoder.embed_tokens.weight"
        else:
            params.append(Param("lm_head.weight", "lm_head.kernel", LINEAR))
    return WeightTable(params, tied=tied, other_head_keys=(r"^lm_head\.",), base_model_prefix="model",
                       is_head_model=is_head)

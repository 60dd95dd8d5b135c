"""BigBirdPegasus <-> Hugging Face `BigBirdPegasusModel` / `BigBirdPegasusForConditionalGeneration`.

The BART-family layout (`tfmodels.converters.bart`) with: learned
`embed_positions` (no offset), encoder self-attention as
`self_attn.self.{query,key,value}` + `self_attn.output`, attention biases only
when `use_bias`, and each stack's final norm named `layernorm_embedding`.
"""

from tfmodels.converters.bart import bart_block, bart_table
from tfmodels.converters.mapping import split_head_model
from tfmodels.converters.registry import register_weight_table

ENCODER_SELF_ATTENTION = ("self_attn.self.query", "self_attn.self.key", "self_attn.self.value", "self_attn.output")


@register_weight_table("bigbird_pegasus")
def bigbird_pegasus_table(model):
    _, backbone = split_head_model(model)
    use_bias = backbone.config["use_bias"]

    def block_rows(hf, keras, is_decoder):
        return bart_block(hf, keras, is_decoder, use_bias=use_bias,
                          self_attention=None if is_decoder else ENCODER_SELF_ATTENTION)

    return bart_table(model, block_rows=block_rows, final_norm="layernorm_embedding")

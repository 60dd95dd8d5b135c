"""BigBirdPegasus <-> Hugging Face `BigBirdPegasusModel` / `BigBirdPegasusForConditionalGeneration`.

The BART-family layout (`tfmodels.converters.bart`) with: learned
`embed_positions` (no offset), encoder self-attention as
`self_attn.self.{query,key,value}` + `self_attn.output`, attention biases only
when `use_bias`, and each stack's final norm named `layernorm_embedding`.
"""

from functools import partial

from tfmodels.converters.bart import bart_block, bart_stack, bart_table
from tfmodels.converters.registry import register_weight_table

ENCODER_SELF_ATTENTION = ("self_attn.self.query", "self_attn.self.key", "self_attn.self.value", "self_attn.output")


def bigbird_pegasus_backbone(model):
    """Rows of `BigBirdPegasusModel`, unprefixed."""
    use_bias = model.config["use_bias"]

    def block_rows(hf, keras, is_decoder):
        return bart_block(hf, keras, is_decoder, use_bias=use_bias,
                          self_attention=None if is_decoder else ENCODER_SELF_ATTENTION)

    stack = partial(bart_stack, model, block_rows=block_rows, final_norm="layernorm_embedding")
    return stack("encoder") + stack("decoder")


@register_weight_table("bigbird_pegasus")
def bigbird_pegasus_table(model):
    return bart_table(model, backbone_rows=bigbird_pegasus_backbone)

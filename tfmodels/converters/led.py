"""LED <-> Hugging Face `LEDModel` / `LEDForConditionalGeneration` checkpoints.

BART's layout (`converters/bart.py`) under `led.` in head checkpoints, with
positions from row 0; the encoder layers' attention is
`self_attn.longformer_self_attn.{query,key,value}{,_global}` with the output
projection `self_attn.output`.
"""

from tfmodels.converters.bart import bart_block, bart_table
from tfmodels.converters.layer_tables import attention, dense, feed_forward, layer_norm
from tfmodels.converters.mapping import FLATTEN, LINEAR
from tfmodels.converters.registry import register_weight_table


def led_block(hf, keras, is_decoder):
    """An `LEDEncoderLayer` <-> `LongformerEncoderBlock`; decoder layers are BART's."""
    if is_decoder:
        return bart_block(hf, keras, is_decoder)
    attn = f"{hf}.self_attn.longformer_self_attn"
    params = attention(f"{attn}.query", f"{attn}.key", f"{attn}.value", f"{hf}.self_attn.output",
                       f"{keras}.self_attention")
    for name in ("query", "key", "value"):
        params += dense(f"{attn}.{name}_global", f"{keras}.self_attention.{name}_global_dense", kernel=LINEAR,
                        bias=FLATTEN)
    params += layer_norm(f"{hf}.self_attn_layer_norm", f"{keras}.attention_layer_norm")
    params += feed_forward(f"{hf}.fc1", f"{hf}.fc2", f"{keras}.feed_forward")
    return params + layer_norm(f"{hf}.final_layer_norm", f"{keras}.output_layer_norm")


@register_weight_table("led")
def led_table(model):
    return bart_table(model, prefix="led", block_rows=led_block)

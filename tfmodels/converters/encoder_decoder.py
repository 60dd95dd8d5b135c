"""`EncoderDecoderModel` <-> Hugging Face `EncoderDecoderModel` checkpoints.

The encoder's and the decoder's own tables (whatever their families), every
key under `encoder.` / `decoder.`, plus `enc_to_dec_proj` when the widths
differ. The sub-tables' checks (tied decoders, causal-mask buffers,
position ids), ignored and other-head key patterns are nested under the same
prefixes, so loading is exactly as strict as for each model alone.
"""

import dataclasses
import re

from tfmodels.converters.layer_tables import dense
from tfmodels.converters.mapping import WeightTable, prefixed
from tfmodels.converters.registry import register_weight_table, weight_table_for


def nested_pattern(pattern, prefix):
    """A key regex of a sub-model's table, for the same keys under `prefix.`."""
    escaped = re.escape(prefix)
    if pattern.startswith("^"):
        return f"^{escaped}\\.(?:{pattern[1:]})"
    return f"^{escaped}\\..*?(?:{pattern})"


def nested_check(check, prefix):
    """A sub-model's `BufferCheck`, matching its keys under `prefix.` and evaluated on the sub-model."""
    start = len(prefix) + 1

    def expected(model, key, shape):
        return check.expected(getattr(model, prefix), key[start:], shape)

    return dataclasses.replace(check, pattern=nested_pattern(check.pattern, prefix), expected=expected)


def nested_table(table, prefix):
    """The fields of `table` (a sub-model's) for that sub-model at attribute and key prefix `prefix`."""
    return dict(
        params=prefixed(prefix, table.params),
        ignored_keys=tuple(nested_pattern(p, prefix) for p in table.ignored_keys),
        other_head_keys=tuple(nested_pattern(p, prefix) for p in table.other_head_keys),
        buffers={f"{prefix}.{k}": v for k, v in table.buffers.items()},
        checks=tuple(nested_check(c, prefix) for c in table.checks),
    )


def tf_encoder_renames(main_layer):
    """`WeightTable.tf_renames` of a legacy TF `TFEncoderDecoderModel` checkpoint: its encoder is a TF base
    model, which keeps its variables under its main layer (`encoder/bert/embeddings/...`, so `encoder.bert.*`
    once translated) where the PyTorch encoder has none (`encoder.embeddings.*`); `main_layer` is the
    encoder's `base_model_prefix` (the reference's `tf_to_pt_weight_rename` strips `encoder.<model_type>.`).
    The decoder is a TF head model, named as its PyTorch class (`decoder.bert.*`, `decoder.transformer.*`)."""
    if not main_layer:
        return ()
    return ((f"^encoder\\.{re.escape(main_layer)}\\.", "encoder."),)


@register_weight_table("encoder-decoder")
def encoder_decoder_table(model):
    encoder_table = weight_table_for(model.encoder)
    parts = [nested_table(encoder_table, "encoder"), nested_table(weight_table_for(model.decoder), "decoder")]
    params = parts[0]["params"] + parts[1]["params"]
    if model.enc_to_dec_proj is not None:
        params += dense("enc_to_dec_proj", "enc_to_dec_proj")
    return WeightTable(
        params,
        tf_renames=tf_encoder_renames(encoder_table.base_model_prefix),
        ignored_keys=parts[0]["ignored_keys"] + parts[1]["ignored_keys"],
        other_head_keys=parts[0]["other_head_keys"] + parts[1]["other_head_keys"],
        buffers={**parts[0]["buffers"], **parts[1]["buffers"]},
        checks=parts[0]["checks"] + parts[1]["checks"],
    )

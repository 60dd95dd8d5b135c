"""Shared pieces of the decoder parity tests (GPT, GPT-2, CTRL, GPT-Neo)."""

import numpy as np

import tfmodels
from tests.helpers import TOLERANCE, _to_numpy, hf_checkpoint, max_abs_diff, random_inputs, torch_outputs
from tfmodels.models.causal import positions_from_attention_mask


def right_padded(inputs, pad_token_id=0):
    ids = np.where(inputs["attention_mask"] == 1, inputs["input_ids"], pad_token_id)
    return {**inputs, "input_ids": ids}


def left_padded(inputs, pad_token_id=0):
    """Moves the padding of `random_inputs` to the left, with Hugging Face generate's position ids."""
    ids, mask = inputs["input_ids"].copy(), inputs["attention_mask"].copy()
    for row in range(len(ids)):
        n = int(mask[row].sum())
        ids[row] = np.concatenate([np.full(len(ids[row]) - n, pad_token_id), ids[row, :n]])
        mask[row] = np.concatenate([np.zeros(len(mask[row]) - n, "int64"), np.ones(n, "int64")])
    positions = np.asarray(positions_from_attention_mask(mask)).astype("int64")
    return {"input_ids": ids, "attention_mask": mask, "position_ids": positions}


def assert_parity_on_real_tokens(class_name, path, inputs, tolerance=TOLERANCE):
    """Compares logits / hidden states / attention rows at non-padding query positions only.

    With left padding, a padding query sees no key at all (causal + padding
    masks); what it outputs is arbitrary and differs between the references'
    own mask conventions (GPT adds -1e4 for the causal mask, GPT-Neo adds two
    minimums). Real tokens must match to `tolerance`.
    """
    call = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs(class_name, path, inputs, **call)
    model = getattr(tfmodels, class_name).from_pretrained(path)
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False, **call).items()}
    real = inputs["attention_mask"].astype(bool)  # (batch, seq_len)
    diffs = {}
    for name, value in ours.items():
        if name == "past_key_values":
            continue
        values, refs = (value, reference[name]) if isinstance(value, tuple) else ((value,), (reference[name],))
        worst = 0.0
        for ours_t, ref_t in zip(values, refs):
            if name == "attentions":  # (batch, heads, query, key): keep real query rows
                ours_t, ref_t = ours_t.transpose(0, 2, 1, 3)[real], ref_t.transpose(0, 2, 1, 3)[real]
            else:
                ours_t, ref_t = ours_t[real], ref_t[real]
            worst = max(worst, max_abs_diff(ours_t, ref_t))
        diffs[name] = worst
    assert all(v <= tolerance for v in diffs.values()), diffs
    return diffs


def assert_round_trip(class_name, config, tmp_path, inputs):
    """`save_pretrained` output loads in `transformers` with the same logits, and back in tfmodels."""
    path = hf_checkpoint(class_name, config, tmp_path / "hf")
    model = getattr(tfmodels, class_name).from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    ours = np.asarray(model(inputs)["logits"])
    reference = torch_outputs(class_name, str(tmp_path / "ours"), inputs)["logits"]
    assert max_abs_diff(ours, reference) <= TOLERANCE
    reloaded = getattr(tfmodels, class_name).from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(np.asarray(reloaded(inputs)["logits"]), ours)


__all__ = ["assert_parity_on_real_tokens", "assert_round_trip", "left_padded", "random_inputs", "right_padded"]

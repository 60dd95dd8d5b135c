"""The parity harness: tiny random `transformers` models as the oracle.

Usage in an architecture's test::

    from tests.helpers import assert_parity, hf_checkpoint, random_inputs

    def test_bert_model(tmp_path):
        path = hf_checkpoint("BertModel", tiny_bert_config(), tmp_path)
        inputs = random_inputs(vocab_size=99, type_vocab_size=3)
        assert_parity("BertModel", path, inputs)

`assert_parity` loads the checkpoint in PyTorch (eager attention, so
attention probabilities are returned) and in tfmodels, runs both on the same
inputs with hidden states and attentions requested, and checks that every
output the PyTorch model returns is returned by tfmodels too, with max abs
difference <= 1e-5 (float32) against the output of the same name.
"""

import numpy as np

TOLERANCE = 1e-5


def hf_checkpoint(class_name, config, directory, seed=0):
    """Saves a randomly initialised `transformers.<class_name>(config)` to `directory`."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config).eval()
    _randomize_zero_params(model, seed)
    model.save_pretrained(str(directory))
    return str(directory)


def hf_bin_checkpoint(class_name, config, directory, seed=0, shards=1):
    """Like `hf_checkpoint`, but writes `pytorch_model.bin` (or `shards` files plus
    `pytorch_model.bin.index.json`) with `torch.save`, as older checkpoints do."""
    import json
    import os

    import torch
    import transformers

    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config).eval()
    _randomize_zero_params(model, seed)
    os.makedirs(directory, exist_ok=True)
    model.config.save_pretrained(str(directory))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if shards == 1:
        torch.save(state, os.path.join(directory, "pytorch_model.bin"))
        return str(directory)
    keys = sorted(state)
    weight_map = {}
    for i in range(shards):
        name = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
        part = keys[i::shards]
        torch.save({k: state[k] for k in part}, os.path.join(directory, name))
        weight_map.update({k: name for k in part})
    with open(os.path.join(directory, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    return str(directory)


def _randomize_zero_params(model, seed):
    """Gives zero-initialised biases and LayerNorm betas small random values,
    so a weight mapped to the wrong place cannot hide behind zeros/ones."""
    import torch

    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            # `*_token`: ViT/DeiT's cls/distillation/mask tokens start at zero in some families.
            if (name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name or "norm" in name
                    or name.endswith("_token")):
                param.add_(0.1 * torch.randn(param.shape, generator=generator))


def random_inputs(batch_size=3, seq_len=9, vocab_size=99, type_vocab_size=0, seed=0, pad_lengths=(5, 2)):
    """`input_ids`, `attention_mask` (rows 1.. right-padded to `pad_lengths`) and
    optionally `token_type_ids`, as int64 NumPy arrays."""
    rng = np.random.RandomState(seed)
    inputs = {"input_ids": rng.randint(1, vocab_size, (batch_size, seq_len)).astype("int64")}
    mask = np.ones((batch_size, seq_len), dtype="int64")
    for row, length in enumerate(pad_lengths, start=1):
        if row < batch_size:
            mask[row, length:] = 0
    inputs["attention_mask"] = mask
    if type_vocab_size:
        inputs["token_type_ids"] = rng.randint(0, type_vocab_size, (batch_size, seq_len)).astype("int64")
    return inputs


def torch_outputs(class_name, path, inputs, exact=False, **call_kwargs):
    """Runs the PyTorch reference; returns `{name: np.ndarray or tuple}`.

    `exact=True` runs the reference in float64 (weights and float inputs), so the
    comparison measures our float32 error alone, not ours plus the float32
    reference's own rounding. Used where the two roundings add up past the
    tolerance on large outputs (an untied T5 head on random weights gives logits
    near 17, whose float32 ulp is 1.9e-6; see tests/test_t5_parity.py).
    """
    import torch
    import transformers

    model = getattr(transformers, class_name).from_pretrained(path, attn_implementation="eager").eval()
    if exact:
        model = model.double()
    tensors = {k: torch.as_tensor(v) for k, v in inputs.items()}
    if exact:
        tensors = {k: v.double() if v.is_floating_point() else v for k, v in tensors.items()}
    with torch.no_grad():
        outputs = model(**tensors, **call_kwargs)
    # An empty tuple (`cross_attentions` of a model without cross-attention) is no output.
    return {k: _to_numpy(v) for k, v in outputs.items() if v is not None and not (isinstance(v, tuple) and not v)}


def reference_generate(class_name, path, inputs, **options):
    """`transformers.<class_name>.generate()` (greedy unless options say otherwise) on the same inputs.

    The reference runs without its cache (`use_cache=False`: every step a full forward pass), so a
    bug in our cached loop cannot hide behind one in the reference's (its encoder-decoder cache
    breaks when `num_decoder_layers > num_layers`).
    """
    import torch
    import transformers

    model = getattr(transformers, class_name).from_pretrained(path).eval()
    with torch.no_grad():
        return model.generate(input_ids=torch.as_tensor(inputs["input_ids"]),
                              attention_mask=torch.as_tensor(inputs["attention_mask"]),
                              **{"do_sample": False, "use_cache": False, **options}).numpy()


def _to_numpy(value):
    if isinstance(value, dict) or hasattr(value, "keys"):  # nested outputs (CLIP's `text_model_output`)
        return {k: _to_numpy(v) for k, v in value.items() if v is not None}
    if isinstance(value, (tuple, list)):
        return tuple(_to_numpy(v) for v in value)
    if hasattr(value, "detach"):
        value = value.detach()
        return value.numpy() if str(value.dtype) == "torch.float64" else value.float().numpy()  # exact references stay float64
    return np.asarray(value)


def max_abs_diff(ours, reference):
    """Max abs difference over (possibly nested tuples or dicts of) arrays; shapes and keys must agree."""
    if isinstance(reference, dict):
        assert isinstance(ours, dict), f"expected a dict, got {type(ours)}"
        assert sorted(ours) == sorted(reference), f"keys {sorted(ours)} vs reference {sorted(reference)}"
        return max(max_abs_diff(ours[k], reference[k]) for k in reference)
    if isinstance(reference, tuple):
        assert isinstance(ours, (tuple, list)), f"expected a tuple, got {type(ours)}"
        assert len(ours) == len(reference), f"{len(ours)} tensors vs reference {len(reference)}"
        return max(max_abs_diff(a, b) for a, b in zip(ours, reference))
    ours = np.asarray(ours)
    assert ours.shape == reference.shape, f"shape {ours.shape} vs reference {reference.shape}"
    return float(np.max(np.abs(ours.astype("float64") - reference.astype("float64"))))


# Reference outputs that no parity comparison reads, and why. `past_key_values` (`cache`
# in newer `transformers`): the reference returns a Cache object in its own layout; our
# cache path is checked step by step against the full forward and by token-identical
# `generate()` (tests/test_generation.py, tests/test_encoder_lm_heads.py).
NOT_COMPARED = ("past_key_values", "cache")


def compare_outputs(ours, reference, tolerance=TOLERANCE, skip=()):
    """Asserts that ours returns every output the reference returns, each within `tolerance`.

    An output the reference returns and ours lacks (`hidden_states`, `loss`, ...)
    fails the check, as does one of ours the reference lacks; `skip` names outputs
    left out on purpose (each caller says why), `NOT_COMPARED` those no test compares.

    Returns:
        `{output_name: max_abs_diff}`.
    """
    missing = sorted(set(reference) - set(ours) - set(skip) - set(NOT_COMPARED))
    assert not missing, f"outputs the PyTorch reference returns are missing from ours: {missing}"
    diffs = {}
    for name, value in ours.items():
        if name in skip or name in NOT_COMPARED:
            continue
        assert name in reference, f"output {name!r} missing from the PyTorch reference ({sorted(reference)})"
        diffs[name] = max_abs_diff(value, reference[name])
    bad = {k: v for k, v in diffs.items() if not v <= tolerance}
    assert not bad, f"parity failure (tolerance {tolerance}): {bad}"
    assert diffs, "no outputs were compared"
    return diffs


def assert_parity(class_name, path, inputs, tfmodels_class=None, tolerance=TOLERANCE, hidden_and_attentions=True,
                  skip=()):
    """Loads `path` in both frameworks and compares every output; returns the diffs."""
    import tfmodels

    call_kwargs = dict(output_hidden_states=True, output_attentions=True) if hidden_and_attentions else {}
    reference = torch_outputs(class_name, path, inputs, **call_kwargs)
    model = (tfmodels_class or getattr(tfmodels, class_name)).from_pretrained(path)
    ours = model(inputs, training=False, **call_kwargs)
    ours = {k: _to_numpy(v) for k, v in ours.items()}
    return compare_outputs(ours, reference, tolerance, skip)


def assert_save_round_trip(class_name, path, inputs, directory, tfmodels_class=None, tolerance=TOLERANCE):
    """Loads `path` in tfmodels, `save_pretrained`s it to `directory`, loads that with
    `transformers.<class_name>` and checks its outputs against the tfmodels model's."""
    import tfmodels

    model = (tfmodels_class or getattr(tfmodels, class_name)).from_pretrained(path)
    model.save_pretrained(directory)
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False).items()}
    return compare_outputs(ours, torch_outputs(class_name, str(directory), inputs), tolerance)


def choice_inputs(**kwargs):
    """`(batch=2, num_choices=2, seq_len)` inputs with padded choices (`random_inputs` reshaped)."""
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7), **kwargs)
    return {k: v.reshape(2, 2, -1) for k, v in flat.items()}


def espeak():
    """The `espeak-ng` executable, or `None` (tests that need real speech skip without it)."""
    import shutil

    return shutil.which("espeak-ng")


ESPEAK_MISSING = ("espeak-ng is not installed (apt-get install -y espeak-ng); it synthesises the real speech "
                  "this test runs on")


def synthesized_speech(directory, text="The quick brown fox jumps over the lazy dog.", sampling_rate=None):
    """Real speech: `text` spoken by espeak-ng into `directory/speech.wav`, read with soundfile.

    Args:
        directory: a `pathlib.Path` to write the wav into.
        text: what is said.
        sampling_rate: optional int, the rate to resample to (linear interpolation: espeak-ng
            speaks at 22050 Hz); `None` keeps espeak-ng's.

    Returns:
        `(float32 samples (n,), rate)`.
    """
    import subprocess

    import pytest

    soundfile = pytest.importorskip("soundfile", reason="soundfile (the `audio` extra) reads the synthesised wav")
    wav = directory / "speech.wav"
    subprocess.run([espeak(), "-w", str(wav), text], check=True, capture_output=True)
    speech, rate = soundfile.read(wav, dtype="float32")
    if sampling_rate is not None and sampling_rate != rate:
        times = np.arange(int(len(speech) * sampling_rate / rate)) / sampling_rate
        speech = np.interp(times, np.arange(len(speech)) / rate, speech).astype("float32")
        rate = sampling_rate
    return speech, rate

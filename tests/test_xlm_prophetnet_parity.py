"""XLM-ProphetNet against fixtures made with transformers 4.46.3 (`scripts/make_xlm_prophetnet_fixtures.py`).

`transformers` 5 no longer ships XLM-ProphetNet. The fixture is one tiny random
`XLMProphetNetForConditionalGeneration` checkpoint with the 4.46.3 outputs (every hidden state and
attention, on padded inputs) of that model, of its `prophetnet` backbone, of its encoder and decoder
stacks and of `XLMProphetNetForCausalLM` loaded from it, the losses (`eps` label smoothing; the
causal LM with `disable_ngram_loss`), and its cached greedy and beam `generate()` tokens.
The standalone encoder and decoder load checkpoints cut from the fixture's (their keys without the
`prophetnet.encoder.` / `prophetnet.decoder.` prefix), the weights the reference ran.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import tfmodels
from tests.helpers import _to_numpy, compare_outputs

FIXTURE = Path(__file__).parent / "fixtures" / "xlm_prophetnet"
SEQ2SEQ_INPUTS = ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask", "labels")


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(FIXTURE / "reference.npz"))


def expected_outputs(reference, class_name):
    """`{output: array or tuple of arrays}` of one class from the flat `Class.output[.i]` fixture keys."""
    outputs, items = {}, {}
    for key, value in reference.items():
        owner, _, name = key.partition(".")
        if owner != class_name:
            continue
        base, _, index = name.rpartition(".")
        if index.isdigit():
            items.setdefault(base, {})[int(index)] = value
        else:
            outputs[name] = value
    outputs.update({base: tuple(parts[i] for i in sorted(parts)) for base, parts in items.items()})
    return outputs


def stack_checkpoint(directory, stack):
    """The fixture's `prophetnet.<stack>.*` weights (plus the shared token table) as a standalone checkpoint."""
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(FIXTURE / "model.safetensors"))
    prefix = f"prophetnet.{stack}."
    cut = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    cut["word_embeddings.weight"] = weights["prophetnet.word_embeddings.weight"]
    save_file(cut, str(Path(directory) / "model.safetensors"))
    config = json.loads((FIXTURE / "config.json").read_text())
    (Path(directory) / "config.json").write_text(json.dumps({**config, "architectures": [f"XLMProphetNet{stack}"]}))
    return str(directory)


def run(model, inputs):
    return {k: _to_numpy(v) for k, v in model(inputs, training=False, output_attentions=True,
                                               output_hidden_states=True).items()}


def test_seq2seq_classes_match_transformers_4_46(reference):
    """`XLMProphetNetForConditionalGeneration` (by `AutoModelForSeq2SeqLM`) and `XLMProphetNetModel`."""
    inputs = {k: reference[k] for k in SEQ2SEQ_INPUTS}
    model = tfmodels.AutoModelForSeq2SeqLM.from_pretrained(str(FIXTURE))
    assert type(model) is tfmodels.XLMProphetNetForConditionalGeneration
    name = "XLMProphetNetForConditionalGeneration"
    diffs = compare_outputs(run(model, inputs), expected_outputs(reference, name))
    assert {"loss", "logits", "logits_ngram", "decoder_ngram_attentions"} <= set(diffs)
    inputs.pop("labels")
    model = tfmodels.XLMProphetNetModel.from_pretrained(str(FIXTURE))
    compare_outputs(run(model, inputs), expected_outputs(reference, "XLMProphetNetModel"))


def test_decoder_classes_match_transformers_4_46(reference, tmp_path):
    """`XLMProphetNetForCausalLM` from the seq2seq checkpoint (`disable_ngram_loss`), the stacks alone."""
    inputs = {"input_ids": reference["decoder_input_ids"], "attention_mask": reference["decoder_attention_mask"]}
    model = tfmodels.XLMProphetNetForCausalLM.from_pretrained(str(FIXTURE), disable_ngram_loss=True)
    diffs = compare_outputs(run(model, {**inputs, "labels": reference["labels"]}),
                            expected_outputs(reference, "XLMProphetNetForCausalLM"))
    assert "loss" in diffs
    for stack, stack_inputs in (("Decoder", inputs), ("Encoder", {k: reference[k] for k in SEQ2SEQ_INPUTS[:2]})):
        (tmp_path / stack).mkdir()
        model = getattr(tfmodels, f"XLMProphetNet{stack}").from_pretrained(stack_checkpoint(tmp_path / stack, stack.lower()))
        compare_outputs(run(model, stack_inputs), expected_outputs(reference, f"XLMProphetNet{stack}"))


# Opt-in (`-m slow`, each mode traces its loop, ~20 s on 2 cores): the classes and the loop are ProphetNet's,
# whose greedy `generate()` tests/test_prophetnet_parity.py runs by default against transformers 5.
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["greedy", "beam"])
def test_generate_matches_transformers_4_46(reference, mode):
    model = tfmodels.XLMProphetNetForConditionalGeneration.from_pretrained(str(FIXTURE))
    options = dict(num_beams=1) if mode == "greedy" else dict(num_beams=3, num_return_sequences=2)
    ours = model.generate(reference["input_ids"], attention_mask=reference["attention_mask"], max_new_tokens=8,
                          jit_compile=False, **options)
    np.testing.assert_array_equal(ours.numpy(), reference[f"generate.{mode}"])


def test_save_pretrained_writes_the_fixture_layout(reference, tmp_path):
    """`transformers` 5 cannot load XLM-ProphetNet: the saved file must hold the 4.46 checkpoint's keys,
    shapes and values, and load back to the same outputs."""
    from safetensors.numpy import load_file

    model = tfmodels.XLMProphetNetForConditionalGeneration.from_pretrained(str(FIXTURE))
    model.save_pretrained(tmp_path)
    fixture, saved = load_file(str(FIXTURE / "model.safetensors")), load_file(str(tmp_path / "model.safetensors"))
    assert sorted(saved) == sorted(fixture)
    for key, value in fixture.items():
        np.testing.assert_array_equal(saved[key], value, err_msg=key)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "xlm-prophetnet"
    inputs = {k: reference[k] for k in SEQ2SEQ_INPUTS[:4]}
    again = tfmodels.XLMProphetNetForConditionalGeneration.from_pretrained(str(tmp_path))
    np.testing.assert_array_equal(again(inputs)["logits"], model(inputs)["logits"])

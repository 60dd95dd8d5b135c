"""`generate()` defaults read from a `generation_config.json` as `transformers` saves it, for Blenderbot,
BlenderbotSmall, Marian, Pegasus and M2M100.

Each tiny random checkpoint gets the generation fields its family's Hub checkpoints set (scaled down
in length and beams): Blenderbot's `encoder_no_repeat_ngram_size`, `min_length`, `length_penalty`,
`forced_eos_token_id`; Marian's `bad_words_ids` (its padding token), `renormalize_logits` and
decoder start at the padding token; Pegasus' `length_penalty`; M2M100's `early_stopping` and a
target-language `forced_bos_token_id` (as a fine-tuned checkpoint saves it). `generate()` is called
with no options on both sides: the outputs must be token-identical; the reference's output with
those fields reset to the library defaults must differ (the file is seen to matter), and so must
its output with one field reset where that field changes these random models' output on its own
(`MATTERS`: Marian's `renormalize_logits`, M2M100's `forced_bos_token_id`). `min_length`,
`length_penalty`, `encoder_no_repeat_ngram_size` and `bad_words_ids` are read too but change
nothing here on their own (their own tests: tests/test_generation*.py,
tests/test_encoder_no_repeat_ngram.py).
"""

import numpy as np
import pytest

import tfmodels
from tests.helpers import hf_checkpoint, reference_generate
from tests.test_bart_parity import EOS, PAD, bart_config, bart_inputs
from tests.test_s2s_families_parity import family_config

# name -> (class, config, generation_config.json fields)
CASES = {
    "blenderbot": ("BlenderbotForConditionalGeneration",
                   lambda: family_config("blenderbot", encoder_layers=1, decoder_layers=2, init_std=1.0),
                   dict(num_beams=3, max_length=9, min_length=5, length_penalty=0.65, encoder_no_repeat_ngram_size=3,
                        forced_eos_token_id=EOS)),
    "blenderbot-small": ("BlenderbotSmallForConditionalGeneration",
                         lambda: family_config("blenderbot-small", encoder_layers=1, decoder_layers=2, init_std=1.0),
                         dict(num_beams=3, max_length=9, min_length=5, length_penalty=0.65, forced_eos_token_id=EOS)),
    "marian": ("MarianMTModel",
               lambda: bart_config("marian", encoder_layers=1, decoder_layers=2, init_std=1.0,
                                   decoder_start_token_id=PAD),
               # 49: the random model's favourite token, banned so that renormalising changes the beams
               dict(num_beams=3, max_length=9, bad_words_ids=[[PAD], [49]], renormalize_logits=True,
                    decoder_start_token_id=PAD, forced_eos_token_id=EOS)),
    "pegasus": ("PegasusForConditionalGeneration",
                lambda: bart_config("pegasus", d_model=35, encoder_attention_heads=5, decoder_attention_heads=7,
                                    encoder_layers=1, decoder_layers=2, init_std=1.0, decoder_start_token_id=PAD),
                dict(num_beams=3, max_length=9, length_penalty=0.6, decoder_start_token_id=PAD,
                     forced_eos_token_id=EOS)),
    "m2m_100": ("M2M100ForConditionalGeneration",
                lambda: family_config("m2m_100", encoder_layers=1, decoder_layers=2, init_std=1.0),
                dict(num_beams=3, max_length=9, early_stopping=True, forced_bos_token_id=7)),
}
# Fields seen to matter one by one: the reference's output changes when only this one is reset. (The
# others change nothing on their own with these random models, which rarely generate eos early.)
MATTERS = {"marian": "renormalize_logits", "m2m_100": "forced_bos_token_id", "blenderbot": "num_beams"}
# The library defaults of the fields above (what the reference uses without the file).
LIBRARY = dict(num_beams=1, min_length=0, length_penalty=1.0, encoder_no_repeat_ngram_size=0, forced_eos_token_id=None,
               bad_words_ids=None, renormalize_logits=False, early_stopping=False, forced_bos_token_id=None)


def checkpoint(name, directory):
    import transformers

    class_name, config, fields = CASES[name]
    path = hf_checkpoint(class_name, config(), directory)
    config = transformers.AutoConfig.from_pretrained(path)
    generation = transformers.GenerationConfig(**{
        "bos_token_id": config.bos_token_id, "eos_token_id": config.eos_token_id, "pad_token_id": config.pad_token_id,
        "decoder_start_token_id": config.decoder_start_token_id, **fields})
    generation.save_pretrained(path)
    return path


@pytest.mark.parametrize("name", ["marian", pytest.param("m2m_100", marks=pytest.mark.slow),
                                  pytest.param("blenderbot", marks=pytest.mark.slow),
                                  pytest.param("blenderbot-small", marks=pytest.mark.slow),
                                  pytest.param("pegasus", marks=pytest.mark.slow)])
def test_generate_defaults_come_from_generation_config(name, tmp_path):
    class_name, _, fields = CASES[name]
    path = checkpoint(name, tmp_path)
    inputs = bart_inputs(6)
    expected = reference_generate(class_name, path, inputs)
    reset = {k: LIBRARY[k] for k in fields if k in LIBRARY}
    without = reference_generate(class_name, path, inputs, **reset)
    assert expected.shape != without.shape or (expected != without).any(), "the file changes nothing"
    if name in MATTERS:
        alone = reference_generate(class_name, path, inputs, **{MATTERS[name]: LIBRARY[MATTERS[name]]})
        assert expected.shape != alone.shape or (expected != alone).any(), f"{MATTERS[name]} changes nothing"
    assert expected.shape[1] <= fields["max_length"]
    if "forced_bos_token_id" in fields:
        assert (expected[:, 1] == fields["forced_bos_token_id"]).all()
    model = getattr(tfmodels, class_name).from_pretrained(path)
    ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], jit_compile=False)
    np.testing.assert_array_equal(ours.numpy(), expected)

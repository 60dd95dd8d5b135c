"""Builds the XLM-ProphetNet reference fixtures under tests/fixtures/xlm_prophetnet/.

`transformers` 5 no longer ships XLM-ProphetNet, so the reference outputs come
from the last release that had it (4.46.3, `transformers.XLMProphetNet*`,
deprecated there), run in a throwaway virtual environment that reuses the
system's CPU `torch`:

    python scripts/make_xlm_prophetnet_fixtures.py            # creates /tmp/xlm-prophetnet-venv if needed
    python scripts/make_xlm_prophetnet_fixtures.py --venv DIR

It writes one tiny random `XLMProphetNetForConditionalGeneration` checkpoint
(`config.json`, `model.safetensors`, tied weights stored once) and
`reference.npz` with, on right-padded inputs:

- `<Class>.<output>[.<i>]` for `XLMProphetNetForConditionalGeneration` (with
  `labels`, `eps` label smoothing), `XLMProphetNetModel` (its `prophetnet`),
  `XLMProphetNetEncoder` / `XLMProphetNetDecoder` (its stacks, the decoder
  alone without encoder states) and `XLMProphetNetForCausalLM` (loaded from the
  checkpoint, as `transformers` loads a decoder from a seq2seq checkpoint,
  with `labels` and `disable_ngram_loss`), every hidden state and attention;
- the inputs (`input_ids`, `attention_mask`, `decoder_input_ids`,
  `decoder_attention_mask`, `labels`);
- `generate.greedy` and `generate.beam` (`num_beams=3`, `num_return_sequences=2`),
  8 new tokens, the reference's cached `generate()`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_venv import run_builder  # noqa: E402

TRANSFORMERS_VERSION = "4.46.3"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "xlm_prophetnet"

# Unequal stacks (3 encoder layers / 4 heads / ffn 31, 2 decoder layers / 3 heads / ffn 29), ngram 3,
# 8 buckets reaching their log range within the target length.
CONFIG = dict(vocab_size=41, hidden_size=36, encoder_ffn_dim=31, decoder_ffn_dim=29, num_encoder_layers=3,
              num_decoder_layers=2, num_encoder_attention_heads=4, num_decoder_attention_heads=3,
              max_position_embeddings=40, ngram=3, num_buckets=8, relative_max_distance=12, init_std=0.1,
              dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, eps=0.1)
BATCH, SOURCE_LEN, TARGET_LEN = 3, 9, 7


def _inputs(np):
    rng = np.random.RandomState(0)
    vocab = CONFIG["vocab_size"]
    inputs = {"input_ids": rng.randint(1, vocab, (BATCH, SOURCE_LEN)), "decoder_input_ids":
              rng.randint(1, vocab, (BATCH, TARGET_LEN))}
    mask = np.ones((BATCH, SOURCE_LEN), "int64")
    mask[1, 5:], mask[2, 2:] = 0, 0
    decoder_mask = np.ones((BATCH, TARGET_LEN), "int64")
    decoder_mask[1, 4:], decoder_mask[2, 6:] = 0, 0
    inputs.update(attention_mask=mask, decoder_attention_mask=decoder_mask)
    inputs = {k: v.astype("int64") for k, v in inputs.items()}
    inputs["labels"] = np.where(decoder_mask == 1, inputs["decoder_input_ids"], -100)
    return inputs


def _store(arrays, prefix, outputs):
    for key, value in outputs.items():
        if value is None or key in ("past_key_values",):
            continue
        if isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                if item is not None:
                    arrays[f"{prefix}.{key}.{i}"] = item.detach().numpy()
        else:
            arrays[f"{prefix}.{key}"] = value.detach().numpy()


def build_fixtures():
    import numpy as np
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.XLMProphetNetConfig(**CONFIG)
    model = transformers.XLMProphetNetForConditionalGeneration(config).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # small random biases / LayerNorm shifts, so misplaced weights cannot hide
        for key, param in model.named_parameters():
            if key.endswith("bias") or "layer_norm" in key:
                param.add_(0.1 * torch.randn(param.shape, generator=generator))
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(OUT), safe_serialization=True)
    inputs = _inputs(np)
    t = {k: torch.as_tensor(v) for k, v in inputs.items()}
    flags = dict(output_hidden_states=True, output_attentions=True, use_cache=False)
    arrays = dict(inputs)
    with torch.no_grad():
        _store(arrays, "XLMProphetNetForConditionalGeneration", model(**t, **flags))
        _store(arrays, "XLMProphetNetModel", model.prophetnet(
            input_ids=t["input_ids"], attention_mask=t["attention_mask"], decoder_input_ids=t["decoder_input_ids"],
            decoder_attention_mask=t["decoder_attention_mask"], **flags))
        _store(arrays, "XLMProphetNetEncoder", model.prophetnet.encoder(
            input_ids=t["input_ids"], attention_mask=t["attention_mask"], output_hidden_states=True,
            output_attentions=True))
        _store(arrays, "XLMProphetNetDecoder", model.prophetnet.decoder(
            input_ids=t["decoder_input_ids"], attention_mask=t["decoder_attention_mask"], **flags))
        causal = transformers.XLMProphetNetForCausalLM.from_pretrained(str(OUT), disable_ngram_loss=True).eval()
        _store(arrays, "XLMProphetNetForCausalLM", causal(
            input_ids=t["decoder_input_ids"], attention_mask=t["decoder_attention_mask"], labels=t["labels"],
            **flags))
        source = dict(input_ids=t["input_ids"], attention_mask=t["attention_mask"], do_sample=False, use_cache=True,
                      max_new_tokens=8)
        arrays["generate.greedy"] = model.generate(**source, num_beams=1).numpy()
        arrays["generate.beam"] = model.generate(**source, num_beams=3, num_return_sequences=2).numpy()
    np.savez_compressed(OUT / "reference.npz", **arrays)
    print(f"wrote {OUT}: {sorted(arrays)}")


def main():
    run_builder(__file__, TRANSFORMERS_VERSION, build_fixtures, __doc__.splitlines()[0],
                "/tmp/xlm-prophetnet-venv")


if __name__ == "__main__":
    main()

"""Builds the pre-norm FlauBERT reference fixtures under tests/fixtures/flaubert_pre_norm/.

`transformers` 5 breaks FlauBERT's pre-norm path (`FlaubertModel` with
`pre_norm=True` indexes its `EncoderDecoderCache`: "object is not
subscriptable"), so the reference outputs come from 4.46.3, the last release
before that rewrite, run in a throwaway virtual environment that reuses the
system's CPU `torch`:

    python scripts/make_flaubert_fixtures.py        # creates /tmp/transformers-4.46.3-venv if needed

For each class it writes `<class>/config.json`, `<class>/model.safetensors` and
`<class>/reference.npz` with the inputs (`input.*`: right-padded ids, mask,
token types, languages), `last_hidden_state` or `logits`, and
`hidden_states.{i}`. 4.46.3's pre-norm path does not return attention
probabilities, so there are none to compare.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_venv import run_builder  # noqa: E402

TRANSFORMERS_VERSION = "4.46.3"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "flaubert_pre_norm"
CLASSES = ("FlaubertModel", "FlaubertWithLMHeadModel")
# Odd sizes, LayerDrop set (inactive at inference), languages embedded.
CONFIG = dict(vocab_size=99, emb_dim=32, n_layers=2, n_heads=4, max_position_embeddings=64, n_langs=3,
              use_lang_emb=True, pre_norm=True, layerdrop=0.2)


def build_fixtures():
    import numpy as np
    import torch
    import transformers

    from tests.helpers import hf_checkpoint, random_inputs

    for class_name in CLASSES:
        directory = OUT / class_name
        hf_checkpoint(class_name, transformers.FlaubertConfig(**CONFIG), directory)
        model = getattr(transformers, class_name).from_pretrained(str(directory)).eval()
        inputs = random_inputs(type_vocab_size=3)
        inputs["langs"] = np.random.RandomState(5).randint(0, 3, inputs["input_ids"].shape).astype("int64")
        with torch.no_grad():
            out = model(**{k: torch.as_tensor(v) for k, v in inputs.items()}, output_hidden_states=True)
        arrays = {f"input.{k}": v for k, v in inputs.items()}
        main = "logits" if "LMHead" in class_name else "last_hidden_state"
        arrays[main] = getattr(out, main).numpy()
        for i, tensor in enumerate(out.hidden_states):
            arrays[f"hidden_states.{i}"] = tensor.numpy()
        np.savez_compressed(directory / "reference.npz", **arrays)
        print(f"wrote {directory}")


def main():
    run_builder(__file__, TRANSFORMERS_VERSION, build_fixtures, __doc__.splitlines()[0],
                "/tmp/transformers-4.46.3-venv")


if __name__ == "__main__":
    main()

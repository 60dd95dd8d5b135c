"""Builds the Transformer-XL reference fixtures under tests/fixtures/transfo_xl/.

`transformers` 5 no longer ships Transformer-XL, so the reference outputs come
from the last release line that had it in its main namespace (4.35.2), run in
a throwaway virtual environment that reuses the system's CPU `torch`:

    python scripts/make_transfo_xl_fixtures.py            # creates /tmp/txl-venv if needed
    python scripts/make_transfo_xl_fixtures.py --venv DIR

For each tiny random config it writes `<name>/config.json`,
`<name>/model.safetensors` (a `TransfoXLLMHeadModel`, tied weights stored once)
and `<name>/reference.npz`: three consecutive segments run with memory carried
from one to the next, each with `input_ids`, `logits` (log-probabilities),
`last_hidden_state`, `mems.{i}`, `hidden_states.{i}`, `attentions.{i}`; plus the
LM `loss` of segment 0 with `labels = input_ids`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_venv import run_builder  # noqa: E402

TRANSFORMERS_VERSION = "4.35.2"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "transfo_xl"

CONFIGS = {
    # Adaptive embeddings/softmax with div_val=2, memory, clamped distances, same_length masking.
    "adaptive_div2": dict(vocab_size=60, cutoffs=[20, 40], d_model=32, d_embed=32, n_head=4, d_head=8, d_inner=37,
                          div_val=2, n_layer=2, mem_len=5, clamp_len=6, same_length=True),
    # div_val=1 with a projection (d_embed != d_model), tied projections, no clamping.
    "div1_proj": dict(vocab_size=50, cutoffs=[25], d_model=32, d_embed=24, n_head=2, d_head=16, d_inner=29,
                      div_val=1, n_layer=2, mem_len=4, clamp_len=-1, same_length=False),
    # Plain softmax (no clusters), memory longer than a segment.
    "no_clusters": dict(vocab_size=40, cutoffs=[], d_model=32, d_embed=32, n_head=4, d_head=8, d_inner=33,
                        div_val=1, n_layer=3, mem_len=8, clamp_len=1000, same_length=False),
}
SEGMENTS, BATCH, SEQ_LEN = 3, 2, 6


def build_fixtures():
    import numpy as np
    import torch
    import transformers

    for name, fields in CONFIGS.items():
        torch.manual_seed(0)
        config = transformers.TransfoXLConfig(**fields, dropout=0.0, dropatt=0.0)
        model = transformers.TransfoXLLMHeadModel(config).eval()
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():  # small random biases / LayerNorm shifts, so misplaced weights cannot hide
            for key, param in model.named_parameters():
                if key.endswith("bias") or "layer_norm" in key:
                    param.add_(0.1 * torch.randn(param.shape, generator=generator))
        directory = OUT / name
        model.save_pretrained(str(directory), safe_serialization=True)
        rng = np.random.RandomState(0)
        arrays, mems = {}, None
        for segment in range(SEGMENTS):
            input_ids = rng.randint(0, fields["vocab_size"], (BATCH, SEQ_LEN)).astype("int64")
            with torch.no_grad():
                out = model(torch.as_tensor(input_ids), mems=mems, output_hidden_states=True,
                            output_attentions=True)
                base = model.transformer(torch.as_tensor(input_ids), mems=mems)
            prefix = f"seg{segment}."
            arrays[prefix + "input_ids"] = input_ids
            arrays[prefix + "logits"] = out.prediction_scores.numpy()
            arrays[prefix + "last_hidden_state"] = base.last_hidden_state.numpy()
            for kind in ("mems", "hidden_states", "attentions"):
                for i, tensor in enumerate(getattr(out, kind) or ()):
                    arrays[f"{prefix}{kind}.{i}"] = tensor.numpy()
            mems = out.mems
        first = torch.as_tensor(arrays["seg0.input_ids"])
        with torch.no_grad():
            arrays["loss"] = model(first, labels=first).loss.numpy()
        np.savez_compressed(directory / "reference.npz", **arrays)
        print(f"wrote {directory}")


def main():
    run_builder(__file__, TRANSFORMERS_VERSION, build_fixtures, __doc__.splitlines()[0], "/tmp/txl-venv")


if __name__ == "__main__":
    main()

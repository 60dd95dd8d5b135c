"""Greedy generation throughput: tfmodels XLA `generate()` vs `transformers` PyTorch `generate()`.

GPT-2 small shape (12 layers, 768 wide, 12 heads, 50257 tokens; random
weights), prompts of 32 tokens, 64 new tokens, batch 1 and 8, greedy, no
early stop (no EOS). Both run in this process on the same machine. Reports
new tokens per second for each, their ratio, and tfmodels' first-call
(trace + XLA compile + run) time separately from the steady-state timing.

    python benchmarks/generation.py          # GPT-2 small, batch 1 and 8
    python benchmarks/generation.py --quick  # 2-layer model, fewer tokens
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

import tfmodels  # noqa: E402
from timing import fastest_call  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model and short runs (smoke test)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    layers, width, heads, prompt_len, new_tokens = (12, 768, 12, 32, 64) if not args.quick else (2, 128, 4, 32, 16)
    config = transformers.GPT2Config(n_layer=layers, n_embd=width, n_head=heads, n_positions=1024,
                                     eos_token_id=None, bos_token_id=None, pad_token_id=0)
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(config).eval()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        ours = tfmodels.GPT2LMHeadModel.from_pretrained(directory)
    from machine import machine_description

    for line in machine_description():
        print(line)
    print(f"model: {layers} layers, n_embd {width}, {heads} heads; prompt {prompt_len}, {new_tokens} new tokens, greedy")
    for batch in (1, 8):
        ids = np.random.RandomState(batch).randint(1, config.vocab_size, (batch, prompt_len))
        mask = np.ones_like(ids)
        kwargs = dict(max_new_tokens=new_tokens, eos_token_id=[], pad_token_id=0)

        start = time.perf_counter()
        first = ours.generate(ids, attention_mask=mask, **kwargs).numpy()
        compile_s = time.perf_counter() - start
        tf_s = fastest_call(lambda: ours.generate(ids, attention_mask=mask, **kwargs).numpy(), args.repeats)

        torch_ids, torch_mask = torch.tensor(ids), torch.tensor(mask)
        with torch.no_grad():
            reference.generate(torch_ids, attention_mask=torch_mask, max_new_tokens=2, do_sample=False,
                               pad_token_id=0)  # warm-up
            pt_s = fastest_call(lambda: reference.generate(
                torch_ids, attention_mask=torch_mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                do_sample=False, pad_token_id=0,
            ), args.repeats)
            expected = reference.generate(torch_ids, attention_mask=torch_mask, max_new_tokens=new_tokens,
                                          do_sample=False, pad_token_id=0).numpy()
        same = first.shape == expected.shape and bool((first == expected).all())
        tokens = batch * new_tokens
        print(
            f"batch {batch}: tfmodels XLA {tokens / tf_s:8.1f} new tok/s ({tf_s:.2f} s) | "
            f"transformers PyTorch {tokens / pt_s:8.1f} new tok/s ({pt_s:.2f} s) | "
            f"ratio {pt_s / tf_s:.2f}x | first call (trace+compile+run) {compile_s:.1f} s | "
            f"same tokens as PyTorch: {same}"
        )


if __name__ == "__main__":
    main()

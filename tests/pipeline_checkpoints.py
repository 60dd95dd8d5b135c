"""Tiny random `transformers` checkpoints with real tokenizers beside them, for the pipeline tests.

Tokenizers are built offline with the `tokenizers` library: a WordPiece
vocabulary written here (BERT, with `##` subwords so word aggregation has
something to do), and byte-level BPEs trained on `CORPUS` with the
`tokenizers` trainer (GPT-2, BART; T5 gets a `</s>`-appending template). Each
builder writes the model and its tokenizer into one directory, as a Hub
checkpoint has them. Used by `tests/test_pipelines.py` (transformers 5) and by
`scripts/make_pipeline_fixtures.py` (under transformers 4.46.3).
"""

import tempfile
from pathlib import Path

WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "in", "paris", "london", "john", "mary", "lives",
         "works", "at", "google", "is", "was", "who", "where", "what", "does", "very", "fast", "far", "away",
         "and", "of", "to", "new", "york", "city", "big", "small", "red", "house", "tree", ".", ",", "?"]
SUBWORDS = ["##s", "##ing", "##ed", "##er", "##ly", "##y", "##o", "##n"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC", 5: "B-ORG", 6: "I-ORG"}

CORPUS = [
    "The cat sat on the mat and the dog ran far away.",
    "John lives in Paris and works at Google in New York City.",
    "Mary was very fast, the small red house is in London.",
    "Who lives in the big house? Where does the dog sleep?",
    "Summarize this text: a cat, a dog and a tree were in the garden.",
    "translate English to German: the house is small.",
    "Once upon a time there was a little model that generated text.",
] * 3

BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, type_vocab_size=2)


def _files(**paths):
    """Tokenizer file arguments: `vocab=`/`merges=` in transformers 5, `vocab_file=`/`merges_file=` before
    (transformers 5 silently ignores `vocab_file=`, giving an empty vocabulary)."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        return paths
    return {f"{k}_file": v for k, v in paths.items()}


def bert_tokenizer(directory):
    import transformers

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL + WORDS + SUBWORDS) + "\n", encoding="utf-8")
    return transformers.BertTokenizerFast(**_files(vocab=str(vocab)), model_max_length=64)


def _bpe(special_tokens, vocab_size=300):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    return tokenizer


def _bpe_files(directory, special_tokens):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = _bpe(special_tokens).model.save(str(directory))
    return sorted(f for f in files if f.endswith(".json"))[0], sorted(f for f in files if f.endswith(".txt"))[0]


def gpt2_tokenizer(directory):
    import transformers

    vocab, merges = _bpe_files(Path(directory) / "bpe", ["<|endoftext|>"])
    return transformers.GPT2TokenizerFast(**_files(vocab=vocab, merges=merges), pad_token="<|endoftext|>",
                                          model_max_length=64)


def bart_tokenizer(directory):
    import transformers

    vocab, merges = _bpe_files(Path(directory) / "bpe", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return transformers.BartTokenizerFast(**_files(vocab=vocab, merges=merges), model_max_length=40)


def t5_tokenizer(directory):
    import transformers
    from tokenizers import processors

    del directory
    tokenizer = _bpe(["<pad>", "</s>", "<unk>"])
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                             special_tokens=[("</s>", 1)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                                                unk_token="<unk>", model_max_length=64)


LETTERS = ["<pad>", "<s>", "</s>", "<unk>", "|", "'", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
# espeak-ng speaks at 22050 Hz; the speech checkpoint's feature extractor takes that rate.
SPEECH_SAMPLING_RATE = 22050


def wav2vec2_ctc_tokenizer(directory):
    """A character-level CTC tokenizer (`<pad>` is the blank, `|` the word delimiter), as wav2vec 2.0
    checkpoints ship it."""
    import json

    import transformers

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.json"
    vocab.write_text(json.dumps({token: i for i, token in enumerate(LETTERS)}), encoding="utf-8")
    return transformers.Wav2Vec2CTCTokenizer(str(vocab))


def build(kind, directory):
    """Writes the checkpoint `kind` (a key of `BUILDERS`) with its tokenizer (and image processor or feature
    extractor) into
    `directory`; returns it."""
    from tests.helpers import hf_checkpoint

    directory = Path(directory)
    class_name, make_tokenizer, make_config, *make_image_processor = BUILDERS[kind]
    tokenizer = None
    if make_tokenizer is not None:
        with tempfile.TemporaryDirectory() as source:
            tokenizer = make_tokenizer(source)
    config = make_config(tokenizer)
    hf_checkpoint(class_name, config, directory)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(directory))
    for make in make_image_processor:
        make().save_pretrained(str(directory))
    return str(directory)


def _bert_config(**fields):
    def make(tokenizer):
        import transformers

        return transformers.BertConfig(**BERT, vocab_size=len(tokenizer), **fields)
    return make


def _gpt2_config(tokenizer):
    import transformers

    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return transformers.GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                   n_inner=37, bos_token_id=eos, eos_token_id=eos,
                                   initializer_range=0.3)  # wide weights: varied greedy text


def _t5_config(tokenizer):
    import transformers

    return transformers.T5Config(
        vocab_size=len(tokenizer), d_model=20, d_kv=7, d_ff=23, num_layers=2, num_decoder_layers=3, num_heads=3,
        relative_attention_num_buckets=8, relative_attention_max_distance=12, decoder_start_token_id=0,
        pad_token_id=0, eos_token_id=1, initializer_factor=10.0,
        task_specific_params={"summarization": {"prefix": "summarize: "},
                              "translation_en_to_de": {"prefix": "translate English to German: "}},
    )


def _bart_config(tokenizer):
    import transformers

    return transformers.BartConfig(
        vocab_size=len(tokenizer), max_position_embeddings=40, d_model=30, encoder_layers=2, decoder_layers=3,
        encoder_attention_heads=3, decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2, init_std=1.0,
    )


def _vit_config(tokenizer):
    import transformers

    from tests.tiny_models import tiny_config

    del tokenizer
    return transformers.ViTConfig(**{**tiny_config("vit"), "num_labels": 4},
                                  id2label={0: "cat", 1: "person", 2: "cup", 3: "rocket"})


def _clip_config(tokenizer):
    import transformers

    from tests.tiny_models import tiny_config

    clip = tiny_config("clip")
    sep = tokenizer.convert_tokens_to_ids("[SEP]")  # the text tower pools at its eos token: BERT's [SEP] here
    text = dict(clip["text_config"], vocab_size=len(tokenizer), bos_token_id=2, eos_token_id=sep, pad_token_id=0)
    return transformers.CLIPConfig(text_config=text, vision_config=clip["vision_config"],
                                   projection_dim=clip["projection_dim"])


def _wav2vec2_ctc_config(tokenizer):
    import transformers

    from tests.tiny_models import tiny_config

    # A coarse feature encoder (80 samples per frame) keeps seconds of speech cheap.
    return transformers.Wav2Vec2Config(**{**tiny_config("wav2vec2"), "conv_dim": (10, 12, 14),
                                          "conv_stride": (5, 4, 4), "conv_kernel": (10, 4, 4),
                                          "vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id})


def _wav2vec2_feature_extractor():
    import transformers

    return transformers.Wav2Vec2FeatureExtractor(sampling_rate=SPEECH_SAMPLING_RATE, return_attention_mask=True)


def _speech2text_config(tokenizer):
    import transformers

    from tests.tiny_models import tiny_config

    # 80 mel bins (the extractor's default); 200 positions after the 4x subsampler: 8 s of audio.
    return transformers.Speech2TextConfig(**{**tiny_config("speech_to_text"), "vocab_size": len(tokenizer),
                                             "input_feat_per_channel": 80, "max_source_positions": 200,
                                             "bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2,
                                             "decoder_start_token_id": 2})


def _speech2text_feature_extractor():
    import transformers

    return transformers.Speech2TextFeatureExtractor()  # 16 kHz, 80 mel bins


def _vit_image_processor():
    import transformers

    return transformers.ViTImageProcessor(size={"height": 30, "width": 30})


def _clip_image_processor():
    import transformers

    return transformers.CLIPImageProcessor(size={"shortest_edge": 33}, crop_size={"height": 30, "width": 30})


BUILDERS = {
    "bert-nli": ("BertForSequenceClassification", bert_tokenizer,
                 _bert_config(id2label={0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"},
                              label2id={"CONTRADICTION": 0, "NEUTRAL": 1, "ENTAILMENT": 2})),
    "vit-image-classification": ("ViTForImageClassification", None, _vit_config, _vit_image_processor),
    "clip": ("CLIPModel", bert_tokenizer, _clip_config, _clip_image_processor),
    "wav2vec2-ctc": ("Wav2Vec2ForCTC", wav2vec2_ctc_tokenizer, _wav2vec2_ctc_config, _wav2vec2_feature_extractor),
    # A BART byte-level BPE stands in for Speech2Text's SentencePiece tokenizer (same special ids).
    "speech2text": ("Speech2TextForConditionalGeneration", bart_tokenizer, _speech2text_config,
                    _speech2text_feature_extractor),
    "bert-sequence-classification": ("BertForSequenceClassification", bert_tokenizer,
                                     _bert_config(id2label={0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"})),
    "bert-single-label": ("BertForSequenceClassification", bert_tokenizer, _bert_config(num_labels=1)),
    "bert-token-classification": ("BertForTokenClassification", bert_tokenizer, _bert_config(id2label=LABELS)),
    "bert-question-answering": ("BertForQuestionAnswering", bert_tokenizer, _bert_config()),
    "bert-masked-lm": ("BertForMaskedLM", bert_tokenizer, _bert_config()),
    "bert-model": ("BertModel", bert_tokenizer, _bert_config()),
    "gpt2": ("GPT2LMHeadModel", gpt2_tokenizer, _gpt2_config),
    "t5": ("T5ForConditionalGeneration", t5_tokenizer, _t5_config),
    "bart": ("BartForConditionalGeneration", bart_tokenizer, _bart_config),
}

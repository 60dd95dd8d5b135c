"""In-graph byte-level BPE and Unigram (SentencePiece) tokenizers against the `tokenizers` library.

Tokenizers are trained here (no network): byte-level BPEs with `tokenizers`
(the GPT-2 / RoBERTa / BART layout, and CLIP's), and a SentencePiece Unigram model with
`sentencepiece`, converted by `transformers`' own tokenizer classes (T5,
ALBERT, XLNet, XLM-R, CamemBERT, mBART) into `tokenizer.json`. Reference ids
come from `tokenizers.Tokenizer` on that file (what `transformers` runs),
with truncation and padding enabled.
"""

import base64
import copy
import json

import numpy as np
import pytest
import tensorflow as tf

from tests.test_tokenizer_export import HARD_TEXTS, real_texts
from tfmodels.export import InGraphTokenizer

tokenizers = pytest.importorskip("tokenizers")
spm = pytest.importorskip("sentencepiece")
transformers = pytest.importorskip("transformers")

EXTRA_TEXTS = HARD_TEXTS + [
    "x  y", "  leading", "trailing  ", "a\n\nb", "a \n b", "a\t\tb", " ", "\n", "it's IT'S you'LL they'd",
    "123456 7,890.12 ３４", "héllo wörld ñ ç Ångström", "😀😀 😀 👨‍👩‍👧", "\u00a0a\u00a0 b", "\u3000x", "\u2009y",
    "z\u202f", "\u2028s", "a\u0085b", "\u000bv\u000c", "``quoted'' text", "हिन्दी भाषा का पाठ", "مرحبا بالعالم",
    "Ελληνικά κείμενα", "İI ıi ǅ ß ẞ", "e\u0301 n\u0303", "ﬁ ﬂ ＡＢＣ ①②", "\u2581already metaspace", "a" * 300,
    "supercalifragilistic" * 5,
]
SPECIAL_TEXTS = ["before <mask> after", "<s>inside</s>", "x<pad>y", "</s>", "tail </s>", "<unk> and <mask>"]


LONG_TEXTS = ["a" * 300, "supercalifragilistic" * 5, HARD_TEXTS[9], HARD_TEXTS[10]]


def texts(full=True):
    """The corpus: `full` adds 130 more real texts and the long words (slow for KerasHub's BPE loop)."""
    if full:
        return real_texts()[:150] + EXTRA_TEXTS
    return real_texts()[:20] + [t for t in EXTRA_TEXTS if t not in LONG_TEXTS]


def reference(tokenizer, batch, max_length):
    tokenizer = tokenizers.Tokenizer.from_str(tokenizer.to_str())
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(length=max_length, pad_id=tokenizer.token_to_id("<pad>") or 0)
    encodings = tokenizer.encode_batch(batch)
    return {"input_ids": np.array([e.ids for e in encodings]),
            "attention_mask": np.array([e.attention_mask for e in encodings]),
            "token_type_ids": np.array([e.type_ids for e in encodings])}


def assert_same_ids(tokenizer, batch, max_length=64, in_graph=None):
    ours = (in_graph or InGraphTokenizer(tokenizer, max_length=max_length))(tf.constant(batch))
    expected = reference(tokenizer, batch, max_length)
    differ = np.flatnonzero(np.any(ours["input_ids"].numpy() != expected["input_ids"], axis=1))
    examples = [(batch[i][:40], ours["input_ids"].numpy()[i][:12].tolist(), expected["input_ids"][i][:12].tolist())
                for i in differ[:4]]
    assert not len(differ), f"{len(differ)} of {len(batch)} texts differ, e.g. {examples}"
    for key in ("attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(ours[key].numpy(), expected[key], err_msg=key)
    return expected


# ----------------------------------------------------------------------------------------------- BPE


@pytest.fixture(scope="module")
def byte_level_bpe():
    """A GPT-2-layout byte-level BPE (no normalizer, ByteLevel pre-tokenizer) trained on the corpus."""
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tokenizer = tokenizers.Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(real_texts(), trainer)
    return tokenizer


def _bpe_variant(base, processor=None, add_prefix_space=False, mask_lstrip=True):
    from tokenizers import pre_tokenizers, processors

    tokenizer = tokenizers.Tokenizer.from_str(base.to_str())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    if processor == "roberta":  # RoBERTa, BART, Longformer: <s> text </s>
        tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    elif processor == "gpt2":
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    config = json.loads(tokenizer.to_str())
    for token in config["added_tokens"]:
        token["lstrip"] = token["content"] == "<mask>" and mask_lstrip  # as in roberta-base
    return tokenizers.Tokenizer.from_str(json.dumps(config))


@pytest.fixture(scope="module")
def roberta_with_prefix_space(byte_level_bpe):
    tokenizer = _bpe_variant(byte_level_bpe, "roberta", add_prefix_space=True)
    return tokenizer, InGraphTokenizer(tokenizer, max_length=48)


@pytest.mark.parametrize("processor,add_prefix_space,full", [
    ("roberta", True, False),
    pytest.param("roberta", True, True, marks=pytest.mark.slow),
    pytest.param("roberta", False, True, marks=pytest.mark.slow),
    pytest.param("gpt2", False, True, marks=pytest.mark.slow),
])
def test_byte_level_bpe_equals_tokenizers_library(byte_level_bpe, roberta_with_prefix_space, processor,
                                                   add_prefix_space, full):
    """GPT-2 (no special tokens), RoBERTa / BART (`<s> x </s>`, `<mask>` with lstrip), with and without
    `add_prefix_space`; texts with NUL are left out (refused, next test)."""
    tokenizer, in_graph = roberta_with_prefix_space
    if (processor, add_prefix_space) != ("roberta", True):
        tokenizer, in_graph = _bpe_variant(byte_level_bpe, processor, add_prefix_space), None
    batch = [t for t in texts(full) + SPECIAL_TEXTS if "\x00" not in t]
    expected = assert_same_ids(tokenizer, batch, max_length=48, in_graph=in_graph)
    assert expected["attention_mask"].sum(1).max() == 48  # some texts were truncated
    assert expected["attention_mask"].sum(1).min() == (2 if processor == "roberta" else 0)  # empty text


@pytest.fixture(scope="module")
def clip_bpe():
    """CLIP's layout (`transformers`' CLIPConverter): NFC, whitespace runs to a space, lowercase; CLIP's split;
    `</w>` on word ends; `<|startoftext|> x <|endoftext|>`; every byte symbol with and without `</w>`."""
    from tokenizers import Regex, models, normalizers, pre_tokenizers, processors, trainers

    tokenizer = tokenizers.Tokenizer(models.BPE(continuing_subword_prefix="", end_of_word_suffix="</w>",
                                                unk_token="<|endoftext|>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                                 normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                             behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<|startoftext|>", "<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), end_of_word_suffix="</w>",
                                  show_progress=False)
    tokenizer.train_from_iterator(real_texts(), trainer)
    config = json.loads(tokenizer.to_str())
    vocab = config["model"]["vocab"]
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        for token in (symbol, symbol + "</w>"):
            vocab.setdefault(token, len(vocab))
    tokenizer = tokenizers.Tokenizer.from_str(json.dumps(config))
    tokenizer.post_processor = processors.RobertaProcessing(("<|endoftext|>", 1), ("<|startoftext|>", 0),
                                                            trim_offsets=False, add_prefix_space=False)
    return tokenizer


@pytest.mark.slow
def test_clip_bpe_equals_tokenizers_library(clip_bpe):
    batch = [t for t in texts(full=False)[20:] + ["<|startoftext|>a photo of 2 cats<|endoftext|>", "it's 1234!!"]
             if "\x00" not in t]
    assert_same_ids(clip_bpe, batch, max_length=40)


def test_byte_level_bpe_refuses_text_it_cannot_split(roberta_with_prefix_space):
    tokenizer = roberta_with_prefix_space[1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="U\\+096C"):
        tokenizer(tf.constant(["fine", "digit ६"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="NUL"):
        tokenizer(tf.constant(["a\x00b"]))


# ----------------------------------------------------------------------------------------------- Unigram


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    """SentencePiece Unigram models (nmt_nfkc normalization) trained on the corpus: `{"default": path,
    "albert": path}` (ALBERT's layout: <pad> <unk> [CLS] [SEP] [MASK] first)."""
    directory = tmp_path_factory.mktemp("spm")
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(t for t in real_texts() if t.strip()), encoding="utf-8")
    common = dict(input=str(corpus), vocab_size=400, model_type="unigram", character_coverage=0.995, minloglevel=2)
    spm.SentencePieceTrainer.train(model_prefix=str(directory / "default"), pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   **common)
    spm.SentencePieceTrainer.train(model_prefix=str(directory / "albert"), pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
                                   control_symbols=["[CLS]", "[SEP]", "[MASK]"], **common)
    return {"default": directory / "default.model", "albert": directory / "albert.model"}


def _converted(spm_model, class_name):
    """`transformers`' conversion of the SentencePiece model, as `from_pretrained` does it for a checkpoint
    directory with only the `.model` file."""
    cls = getattr(transformers, class_name)
    source = spm_model["albert" if class_name == "AlbertTokenizer" else "default"]
    directory = source.parent / class_name
    directory.mkdir(exist_ok=True)
    (directory / cls.vocab_files_names["vocab_file"]).write_bytes(source.read_bytes())
    return cls.from_pretrained(str(directory)).backend_tokenizer


def _with_precompiled(tokenizer, spm_model):
    """The layout of the T5 / mT5 / XLM-R tokenizer.json files on the Hub: the SentencePiece charsmap as a
    `Precompiled` normalizer, then whitespace collapsing, then `Metaspace`."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(spm_model["default"].read_bytes())
    config = json.loads(tokenizer.to_str())
    charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode()
    config["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Precompiled", "precompiled_charsmap": charsmap},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    config["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    return tokenizers.Tokenizer.from_str(json.dumps(config))


SLOW = pytest.mark.slow


@pytest.mark.parametrize("class_name", [
    "T5Tokenizer",  # Precompiled charsmap, WhitespaceSplit + Metaspace, `x </s>`
    "AlbertTokenizer",  # Replace, NFKD, StripAccents, Lowercase, Precompiled; `[CLS] x [SEP]`
    pytest.param("CamembertTokenizer", marks=SLOW),  # repeated pieces (<unk>), <mask> with lstrip
    pytest.param("XLNetTokenizer", marks=SLOW), pytest.param("XLMRobertaTokenizer", marks=SLOW),
    pytest.param("MBartTokenizer", marks=SLOW),  # no normalizer; `x </s> en_XX`
    pytest.param("PegasusTokenizer", marks=SLOW),  # Precompiled + Replace(" {2,}"), Metaspace alone
])
def test_unigram_equals_tokenizers_library(spm_model, class_name):
    tokenizer = _converted(spm_model, class_name)
    assert json.loads(tokenizer.to_str())["model"]["type"] == "Unigram"
    expected = assert_same_ids(tokenizer, texts() + SPECIAL_TEXTS, max_length=40)
    assert expected["attention_mask"].sum(1).max() == 40


@pytest.mark.slow
def test_unigram_precompiled_charsmap_equals_tokenizers_library(spm_model):
    tokenizer = _with_precompiled(_converted(spm_model, "T5Tokenizer"), spm_model)
    assert_same_ids(tokenizer, texts() + SPECIAL_TEXTS, max_length=40)


def test_xlnet_left_padding_and_type_ids(spm_model):
    """XLNet: `text <sep> <cls>` with type id 2 on <cls>, padded on the left."""
    config = json.loads(_converted(spm_model, "XLNetTokenizer").to_str())
    config["padding"] = {"strategy": "BatchLongest", "direction": "Left", "pad_to_multiple_of": None,
                         "pad_id": 5, "pad_type_id": 3, "pad_token": "<pad>"}
    ours = InGraphTokenizer(tokenizers.Tokenizer.from_str(json.dumps(config)), max_length=12)(
        tf.constant(["short", "a somewhat longer sentence than that"]))
    reference_tokenizer = tokenizers.Tokenizer.from_str(json.dumps(config))
    reference_tokenizer.enable_truncation(12)
    reference_tokenizer.enable_padding(direction="left", length=12, pad_id=5, pad_type_id=0)
    expected = reference_tokenizer.encode_batch(["short", "a somewhat longer sentence than that"])
    np.testing.assert_array_equal(ours["input_ids"].numpy(), [e.ids for e in expected])
    np.testing.assert_array_equal(ours["attention_mask"].numpy(), [e.attention_mask for e in expected])
    np.testing.assert_array_equal(ours["token_type_ids"].numpy(), [e.type_ids for e in expected])
    assert ours["token_type_ids"].numpy()[0, -1] == 2 and ours["attention_mask"].numpy()[0, 0] == 0


# ----------------------------------------------------------------------------------------------- refusals


def test_unreproducible_stages_are_refused(byte_level_bpe, spm_model):
    from tokenizers import normalizers, pre_tokenizers

    def modified(tokenizer, **stages):
        tokenizer = tokenizers.Tokenizer.from_str(tokenizer.to_str())
        for name, stage in stages.items():
            setattr(tokenizer, name, stage)
        return tokenizer

    unigram = _converted(spm_model, "T5Tokenizer")
    cases = [
        (modified(unigram, normalizer=normalizers.Nmt()), "'Nmt' normalizer"),
        (modified(unigram, normalizer=normalizers.Replace(tokenizers.Regex(r"\d+"), "0")), "Replace"),
        (modified(unigram, pre_tokenizer=pre_tokenizers.Metaspace(prepend_scheme="first")), "prepend_scheme"),
        (modified(unigram, pre_tokenizer=pre_tokenizers.Digits()), "'Digits' pre-tokenizer"),
        (modified(byte_level_bpe, pre_tokenizer=pre_tokenizers.Whitespace()), "ByteLevel"),
        (modified(byte_level_bpe, normalizer=normalizers.BertNormalizer()), "'BertNormalizer' normalizer"),
        (tokenizers.Tokenizer(tokenizers.models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]")), "WordLevel"),
    ]
    for tokenizer, message in cases:
        with pytest.raises(ValueError, match=message):
            InGraphTokenizer(tokenizer)
    config = json.loads(byte_level_bpe.to_str())
    config["model"]["end_of_word_suffix"] = "</w>"  # CLIP
    with pytest.raises(ValueError, match="end_of_word_suffix"):
        InGraphTokenizer(tokenizers.Tokenizer.from_str(json.dumps(copy.deepcopy(config))))


# ----------------------------------------------------------------------------------------------- SavedModels

LOAD_AND_SERVE = r"""
import json, sys
import numpy as np, tensorflow as tf, tensorflow_text  # noqa: F401  (registers the TF Text ops)
assert "tfmodels" not in sys.modules and "keras_hub" not in sys.modules
loaded = tf.saved_model.load(sys.argv[1])
texts = tf.constant(json.loads(sys.argv[2]))
print(json.dumps({name: {k: [s.decode() for s in v.numpy()] if v.dtype == tf.string else v.numpy().tolist()
                         for k, v in loaded.signatures[name](text=texts).items()}
                  for name in json.loads(sys.argv[3])}))
"""


def _serve_in_fresh_process(directory, batch, names):
    import os
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", LOAD_AND_SERVE, str(directory), json.dumps(batch), json.dumps(names)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


SERVED_TEXTS = ["Café crème, naïve façade — résumé!", "Emoji 😀 and   spaces\tand\nnewlines", "", "a b"]


def _left_padded(features, pad_id):
    """Right-padded reference features moved to the left (the layout causal-LM generation takes)."""
    out = {key: np.full_like(value, pad_id if key == "input_ids" else 0) for key, value in features.items()}
    for row, length in enumerate(features["attention_mask"].sum(1)):
        for key in out:
            out[key][row, out[key].shape[1] - length:] = features[key][row, :length]
    return out


@pytest.mark.slow
def test_gpt2_text_signatures_in_fresh_process(byte_level_bpe, tmp_path):
    import tfmodels
    from tfmodels.export import export_saved_model

    tokenizer = _bpe_variant(byte_level_bpe, "gpt2")
    model = tfmodels.GPT2LMHeadModel(vocab_size=byte_level_bpe.get_vocab_size(), n_embd=32, n_layer=2, n_head=4,
                                     n_positions=64, eos_token_id=2, pad_token_id=1)
    model.build_from_dummy_inputs()
    generation = {"batch_size": 4, "prompt_length": 12, "max_new_tokens": 4}
    directory = export_saved_model(model, tmp_path / "gpt2", tokenizer=tokenizer, max_length=12,
                                   generation=generation)
    batch = SERVED_TEXTS[:2] + SERVED_TEXTS[3:]  # a causal LM needs a token to start from
    served = _serve_in_fresh_process(directory, batch, ["tokenize", "serve_text", "generate_text"])
    features = reference(tokenizer, batch, 12)
    np.testing.assert_array_equal(served["tokenize"]["input_ids"], features["input_ids"])
    expected = model({k: features[k] for k in ("input_ids", "attention_mask")}, training=False)["logits"].numpy()
    mask = features["attention_mask"].astype(bool)
    np.testing.assert_allclose(np.asarray(served["serve_text"]["logits"])[mask], expected[mask], atol=1e-5)
    prompts = _left_padded(features, tokenizer.token_to_id("<pad>"))
    sequences = model.generate(prompts["input_ids"], attention_mask=prompts["attention_mask"], max_new_tokens=4)
    np.testing.assert_array_equal(served["generate_text"]["sequences"], sequences.numpy())


@pytest.mark.slow  # T5 export + fresh-process generation stays in the default suite via test_seq2seq_export.py
def test_t5_generate_text_in_fresh_process(spm_model, tmp_path):
    import tfmodels
    from tests.test_t5_parity import t5_config
    from tfmodels.export import export_saved_model

    tokenizer = _with_precompiled(_converted(spm_model, "T5Tokenizer"), spm_model)
    config = t5_config().to_dict()
    config["vocab_size"] = tokenizer.get_vocab_size()
    model = tfmodels.T5ForConditionalGeneration.from_config(config)
    model.build_from_dummy_inputs()
    with pytest.raises(ValueError, match="generate_text"):
        export_saved_model(model, tmp_path / "refused", tokenizer=tokenizer, max_length=10)
    generation = {"batch_size": 4, "prompt_length": 10, "max_new_tokens": 4}
    directory = export_saved_model(model, tmp_path / "t5", tokenizer=tokenizer, max_length=10, generation=generation)
    served = _serve_in_fresh_process(directory, SERVED_TEXTS, ["tokenize", "generate_text"])
    features = reference(tokenizer, SERVED_TEXTS, 10)
    for key in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(served["tokenize"][key], features[key])
    sequences = model.generate(features["input_ids"], attention_mask=features["attention_mask"], max_new_tokens=4)
    np.testing.assert_array_equal(served["generate_text"]["sequences"], sequences.numpy())

"""Builds the legacy Hugging Face TF checkpoint fixtures under tests/fixtures/tf_h5/.

`transformers` 5 has no TensorFlow models, so the `tf_model.h5` files and
their reference outputs come from 4.46.3, the last release before the TF
classes were removed, with TensorFlow 2.15 and tf-keras in a throwaway
virtual environment (no system packages: the system's Keras 3 must stay
out):

    python scripts/make_tf_h5_fixtures.py        # creates /tmp/h5-venv if needed
    python scripts/make_tf_h5_fixtures.py --only CLIPModel LEDForConditionalGeneration   # just these classes

For each class it builds the tiny random `TF<Class>`, adds random noise to
every weight (so zero-initialised biases and unit norms are tested too),
saves it with `save_pretrained` (`config.json` + `tf_model.h5`; the classes
in `SHARDED` with a small `max_shard_size`, giving `tf_model-0000k-of-0000n.h5`
shards and `tf_model.h5.index.json`), and writes `<class>/reference.npz`:
the inputs (`input.*`, right-padded; seq2seq decoders right-padded too) and
every output the TF model returns on them with hidden states and attentions
(tuples as `name.{i}`, nested outputs such as CLIP's `text_model_output` as
`name/field`; the cache, `past_key_values` / `mems`, is left out).
The classes in `SAFETENSORS` are also saved with `safe_serialization=True`
(a `model.safetensors` in TF naming and layouts, metadata `format: tf`) to
`safetensors/<class>/` (`config.json`, `model.safetensors`; the reference is
the h5 fixture's).

The classes of `VARIABLE_MODELS` (more families, kept small) store no
weights: every variable gets `tests.tf_h5_weights.synthetic_value(name,
shape)`, a function of its name, and `variables/<class>/` holds
`config.json`, `variables.json` (`{TF variable name: shape}`, in the order
`save_weights` writes them), `h5_layers.json` where a variable's layer group
in the file is not the one `tests.tf_h5_weights.default_layer` derives from
its name (TF RAG's `final_logits_bias:0` is under its `generator` / `rag`
layer), and `reference.npz`; the tests rebuild the `tf_model.h5` from them
(`tests.tf_h5_weights.write_keras2_h5`). Variables
that are not synthetic go to `constants.npz`: the non-trainable ones and
those of `FIXED` (sinusoid tables, which the loader compares with the ones
tfmodels computes; in TF RoFormer, Marian and Pegasus trainable variables) keep the TF model's
values, and the copies of `TIED` take the value of the
variable they copy (TF ALBERT computes with `predictions/decoder/bias`; a
checkpoint converted from PyTorch, where the two are one parameter, holds it
in `predictions/bias` too; TF Transformer-XL keeps its own adaptive-softmax
tables, which PyTorch ties to the input ones; TF Speech2Text's `lm_head` is a
`Dense` whose kernel is the decoder's token table transposed).

Composites take a config per sub-model (`EncoderDecoderConfig`: BERT encoder,
GPT-2 decoder; `RagConfig`: DPR question encoder, BART generator). The TF RAG
models retrieve with `fixed_retriever`, a `RagRetriever` that returns the
fixed documents of `rag_documents` (a real retriever needs a `datasets` index
and faiss, which a fixture cannot ship), so the question encoder is exercised
through the document scores; the documents are stored as `retriever.*` in
`reference.npz`, and the outputs with `output_retrieved=True` and the
sub-models' hidden states and attentions turned on.

Two configurations avoid bugs of the 4.46.3 TF classes: Wav2Vec2's feature
encoder has equal `conv_dim`s (TF's no-norm conv layers take
`conv_dim[layer_id]` input channels), and LXMERT has as many boxes as tokens
(TF reshapes `visual_attention_mask` with the text's length).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_venv import run_builder  # noqa: E402

TRANSFORMERS_VERSION = "4.46.3"
# TensorFlow Probability: TF TAPAS's question-answering head needs it.
PACKAGES = ("tensorflow-cpu==2.15.*", "tf-keras==2.15.*", "tensorflow-probability==0.23.*", "numpy<2")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "tf_h5"
VOCAB = 40

# Odd sizes (intermediate 29, 3 labels), narrow (24) and short tables: an h5 file stores each variable in its
# own dataset under nested groups, so even tiny models take ~100 KB.
BERT = dict(vocab_size=VOCAB, hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=29,
            max_position_embeddings=16, type_vocab_size=3, num_labels=3)
MODELS = {
    # class name (without TF): (config class, config fields, input kind)
    "BertModel": ("BertConfig", BERT, "encoder"),
    "BertForSequenceClassification": ("BertConfig", BERT, "encoder"),
    "BertForMaskedLM": ("BertConfig", BERT, "encoder"),
    "GPT2LMHeadModel": ("GPT2Config", dict(vocab_size=VOCAB, n_embd=24, n_layer=2, n_head=3, n_positions=16,
                                           n_inner=29), "decoder"),
    "RobertaForMaskedLM": ("RobertaConfig", {**BERT, "type_vocab_size": 1, "max_position_embeddings": 18,
                                             "pad_token_id": 1}, "roberta"),
    "T5ForConditionalGeneration": ("T5Config", dict(vocab_size=VOCAB, d_model=24, d_kv=6, d_ff=29, num_layers=2,
                                                    num_decoder_layers=3, num_heads=4,
                                                    relative_attention_num_buckets=8,
                                                    relative_attention_max_distance=16,
                                                    feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                                                    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0),
                                   "seq2seq"),
    "BartForConditionalGeneration": ("BartConfig", dict(vocab_size=VOCAB, max_position_embeddings=16, d_model=24,
                                                        encoder_layers=2, decoder_layers=3, encoder_attention_heads=3,
                                                        decoder_attention_heads=4, encoder_ffn_dim=29,
                                                        decoder_ffn_dim=23, pad_token_id=1, eos_token_id=2,
                                                        bos_token_id=0, decoder_start_token_id=2,
                                                        forced_eos_token_id=None), "seq2seq"),
}
SMALL = dict(vocab_size=VOCAB, hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=29,
             max_position_embeddings=16)
SEQ2SEQ = dict(vocab_size=VOCAB, max_position_embeddings=16, d_model=24, encoder_layers=2, decoder_layers=3,
               encoder_attention_heads=3, decoder_attention_heads=4, encoder_ffn_dim=29, decoder_ffn_dim=23,
               pad_token_id=1, eos_token_id=2, bos_token_id=0, decoder_start_token_id=2, forced_eos_token_id=None)
VISION = dict(image_size=8, patch_size=4, num_channels=3, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
              intermediate_size=29)
SPEECH = dict(vocab_size=VOCAB, d_model=24, encoder_layers=2, decoder_layers=2, encoder_attention_heads=3,
              decoder_attention_heads=4, encoder_ffn_dim=29, decoder_ffn_dim=23, max_source_positions=16,
              max_target_positions=16, num_conv_layers=2, conv_kernel_sizes=(5, 3), conv_channels=14,
              input_feat_per_channel=13, input_channels=1, pad_token_id=1, eos_token_id=2, bos_token_id=0,
              decoder_start_token_id=2)
RAG = dict(question_encoder=("DPRConfig", {**SMALL, "type_vocab_size": 2, "projection_dim": 0}),
           generator=("BartConfig", {**SEQ2SEQ, "max_position_embeddings": 20}), n_docs=2, retrieval_vector_size=24,
           output_retrieved=True)
CLIP_TEXT = dict(vocab_size=VOCAB, hidden_size=24, intermediate_size=29, num_hidden_layers=2, num_attention_heads=3,
                 max_position_embeddings=16, eos_token_id=2)
CLIP_VISION = dict(VISION, hidden_size=32, num_attention_heads=4)
WAV2VEC2 = dict(vocab_size=VOCAB, hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=29,
                conv_dim=(8, 8), conv_stride=(4, 2), conv_kernel=(8, 3), num_conv_pos_embeddings=4,
                num_conv_pos_embedding_groups=3, pad_token_id=0)
VARIABLE_MODELS = {
    "ConvBertModel": ("ConvBertConfig", {**SMALL, "num_attention_heads": 4, "type_vocab_size": 3,
                                         "embedding_size": 16, "head_ratio": 2, "conv_kernel_size": 3,
                                         "num_groups": 1}, "encoder"),
    "XLNetLMHeadModel": ("XLNetConfig", dict(vocab_size=VOCAB, d_model=24, n_layer=2, n_head=3, d_inner=29,
                                             mem_len=None), "plain"),
    "MPNetForMaskedLM": ("MPNetConfig", {**SMALL, "max_position_embeddings": 18}, "plain"),
    "MobileBertModel": ("MobileBertConfig", {**SMALL, "hidden_size": 32, "num_attention_heads": 2,
                                             "embedding_size": 16, "intra_bottleneck_size": 16,
                                             "true_hidden_size": 16, "num_feedforward_networks": 2,
                                             "type_vocab_size": 3}, "encoder"),
    "FunnelModel": ("FunnelConfig", dict(vocab_size=VOCAB, block_sizes=[1, 2], block_repeats=None, num_decoder_layers=1,
                                         d_model=24, n_head=3, d_head=8, d_inner=29, max_position_embeddings=16,
                                         type_vocab_size=3), "encoder"),
    "DebertaModel": ("DebertaConfig", {**SMALL, "type_vocab_size": 0, "relative_attention": True,
                                       "max_relative_positions": 8, "pos_att_type": ["c2p", "p2c"]}, "plain"),
    # No `position_buckets`: with them (4 buckets, 8 relative positions) transformers 4.46's TF DeBERTa-v2 and
    # transformers 5's PyTorch one differ even at unpadded positions (0.02 after two layers; not traced further).
    "DebertaV2Model": ("DebertaV2Config", {**SMALL, "type_vocab_size": 0, "relative_attention": True,
                                           "max_relative_positions": 8, "norm_rel_ebd": "layer_norm",
                                           "share_att_key": True, "pos_att_type": ["c2p", "p2c"],
                                           "position_biased_input": False}, "plain"),
    "RoFormerModel": ("RoFormerConfig", {**SMALL, "embedding_size": 16, "type_vocab_size": 3}, "encoder"),
    "XLMWithLMHeadModel": ("XLMConfig", dict(vocab_size=VOCAB, emb_dim=24, n_layers=2, n_heads=3,
                                             max_position_embeddings=16), "plain"),
    "CTRLLMHeadModel": ("CTRLConfig", dict(vocab_size=VOCAB, n_embd=24, n_layer=2, n_head=3, dff=29, n_positions=16),
                        "decoder"),
    "OpenAIGPTLMHeadModel": ("OpenAIGPTConfig", dict(vocab_size=VOCAB, n_embd=24, n_layer=2, n_head=3, n_positions=16),
                             "decoder"),
    "DistilBertModel": ("DistilBertConfig", dict(vocab_size=VOCAB, dim=24, n_layers=2, n_heads=3, hidden_dim=29,
                                                 max_position_embeddings=16), "plain"),
    "XLMRobertaForSequenceClassification": ("XLMRobertaConfig", {**SMALL, "max_position_embeddings": 18,
                                                                 "type_vocab_size": 1, "pad_token_id": 1,
                                                                 "num_labels": 3}, "plain"),
    "DPRQuestionEncoder": ("DPRConfig", {**SMALL, "type_vocab_size": 3, "projection_dim": 0}, "encoder"),
    "MT5ForConditionalGeneration": ("MT5Config", dict(vocab_size=VOCAB, d_model=24, d_kv=6, d_ff=29, num_layers=2,
                                                      num_decoder_layers=3, num_heads=4,
                                                      relative_attention_num_buckets=8,
                                                      relative_attention_max_distance=16, pad_token_id=0,
                                                      eos_token_id=1, decoder_start_token_id=0), "seq2seq"),
    "T5EncoderModel": ("T5Config", dict(vocab_size=VOCAB, d_model=24, d_kv=6, d_ff=29, num_layers=2, num_heads=4,
                                        relative_attention_num_buckets=8, relative_attention_max_distance=16),
                       "plain"),
    "MBartForConditionalGeneration": ("MBartConfig", SEQ2SEQ, "seq2seq"),
    "MarianMTModel": ("MarianConfig", {**SEQ2SEQ, "pad_token_id": 39, "decoder_start_token_id": 39}, "seq2seq"),
    "PegasusForConditionalGeneration": ("PegasusConfig", {**SEQ2SEQ, "pad_token_id": 0, "eos_token_id": 1,
                                                          "decoder_start_token_id": 0}, "seq2seq"),
    "ElectraForSequenceClassification": ("ElectraConfig", dict(vocab_size=VOCAB, embedding_size=16, hidden_size=24,
                                                               num_hidden_layers=2, num_attention_heads=3,
                                                               intermediate_size=29, max_position_embeddings=16,
                                                               type_vocab_size=3, num_labels=3), "encoder"),
    "FlaubertWithLMHeadModel": ("FlaubertConfig", dict(vocab_size=VOCAB, emb_dim=24, n_layers=2, n_heads=3,
                                                       max_position_embeddings=16), "plain"),
    "LayoutLMModel": ("LayoutLMConfig", {**SMALL, "type_vocab_size": 3, "max_2d_position_embeddings": 32},
                      "layoutlm"),
    "TransfoXLLMHeadModel": ("TransfoXLConfig", dict(vocab_size=VOCAB, cutoffs=[10, 25], d_model=24, d_embed=24,
                                                     n_head=3, d_head=8, d_inner=29, div_val=2, n_layer=2,
                                                     mem_len=0, clamp_len=-1), "ids"),
    "AlbertForMaskedLM": ("AlbertConfig", {**SMALL, "embedding_size": 16, "type_vocab_size": 3}, "encoder"),
    "CamembertForMaskedLM": ("CamembertConfig", {**SMALL, "max_position_embeddings": 18, "type_vocab_size": 1,
                                                 "pad_token_id": 1}, "plain"),
    "BlenderbotForConditionalGeneration": ("BlenderbotConfig", {**SEQ2SEQ, "pad_token_id": 0,
                                                                "decoder_start_token_id": 1}, "seq2seq"),
    "BlenderbotSmallForConditionalGeneration": ("BlenderbotSmallConfig", {**SEQ2SEQ, "pad_token_id": 0,
                                                                          "decoder_start_token_id": 1}, "seq2seq"),
    # Window 4: the 9 tokens are padded to 12 inside the model; the first token of each row attends globally.
    "LongformerForMaskedLM": ("LongformerConfig", {**SMALL, "max_position_embeddings": 20, "type_vocab_size": 1,
                                                   "pad_token_id": 1, "attention_window": [4, 4]}, "longformer"),
    "LEDForConditionalGeneration": ("LEDConfig", {**{k: v for k, v in SEQ2SEQ.items()
                                                     if k != "max_position_embeddings"},
                                                  "max_encoder_position_embeddings": 20,
                                                  "max_decoder_position_embeddings": 16, "attention_window": [4, 4]},
                                    "led"),
    "ViTForImageClassification": ("ViTConfig", dict(VISION, num_labels=3), "vision"),
    "DeiTForImageClassificationWithTeacher": ("DeiTConfig", dict(VISION, num_labels=3, encoder_stride=4), "vision"),
    "CLIPModel": ("CLIPConfig", dict(text_config=CLIP_TEXT, vision_config=CLIP_VISION, projection_dim=16), "clip"),
    "Wav2Vec2ForCTC": ("Wav2Vec2Config", WAV2VEC2, "audio"),
    "TapasForQuestionAnswering": ("TapasConfig", {**SMALL, "type_vocab_sizes": [3, 5, 5, 2, 5, 5, 5],
                                                  "num_aggregation_labels": 3, "max_position_embeddings": 16},
                                  "tapas"),
    "LxmertModel": ("LxmertConfig", dict(vocab_size=VOCAB, hidden_size=24, num_attention_heads=3,
                                         intermediate_size=29, max_position_embeddings=16, type_vocab_size=3,
                                         l_layers=2, x_layers=1, r_layers=1, visual_feat_dim=11, visual_pos_dim=4),
                    "lxmert"),
    # Two 1-D convolutions (kernels 5 and 3) subsample 23 frames of 13 features to 6; the TF LM head is a
    # `Dense` of its own, tied to the decoder's token table by `TIED`.
    "Speech2TextForConditionalGeneration": ("Speech2TextConfig", dict(SPEECH, decoder_layers=3), "speech"),
    # A BERT encoder (24 wide) and a GPT-2 decoder with cross-attention (32 wide, so `enc_to_dec_proj`).
    "EncoderDecoderModel": ("EncoderDecoderConfig", dict(
        encoder=("BertConfig", {**SMALL, "type_vocab_size": 3}),
        decoder=("GPT2Config", dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=16, n_inner=29,
                                    bos_token_id=0, eos_token_id=2, is_decoder=True, add_cross_attention=True))),
                            "seq2seq"),
    # A DPR question encoder (24 wide, as the retrieval vectors) and a BART generator, 2 documents per question
    # from `RAG_DOCUMENTS` (a stand-in for the retriever's index: `FixedRetriever`).
    "RagModel": ("RagConfig", RAG, "rag"),
    "RagTokenForGeneration": ("RagConfig", dict(RAG, do_marginalize=True), "rag"),
    "RagSequenceForGeneration": ("RagConfig", RAG, "rag"),
    # The towers alone: TF keeps them under a `clip` main layer (`clip/text_model/...`).
    "CLIPTextModel": ("CLIPTextConfig", CLIP_TEXT, "plain"),
    "CLIPVisionModel": ("CLIPVisionConfig", CLIP_VISION, "vision"),
    # The bare encoders, which TF keeps under their main layers (`vit/...`, `wav2vec2/...`) as the heads do.
    "ViTModel": ("ViTConfig", VISION, "vision"),
    "Wav2Vec2Model": ("Wav2Vec2Config", WAV2VEC2, "audio"),
}
# TF variable name suffixes of sinusoid tables stored as trainable variables.
FIXED = {"RoFormerModel": ("encoder/embed_positions/embeddings:0",),
         "MarianMTModel": ("embed_positions/embeddings:0",),
         "PegasusForConditionalGeneration": ("embed_positions/embeddings:0",)}
# {copy: source} (name suffixes): TF variables that are one parameter in PyTorch.
TIED = {"AlbertForMaskedLM": {"predictions/bias:0": "predictions/decoder/bias:0"},
        # A TF checkpoint of a tied Speech2Text holds the token table, transposed, as `lm_head`'s kernel.
        "Speech2TextForConditionalGeneration": {"lm_head/kernel:0": ("decoder/embed_tokens/weight:0", "T")},
        "TransfoXLLMHeadModel": {**{f"crit/out_layers_._{i}_._weight:0": f"word_emb/emb_layers_._{i}/embeddings:0"
                                    for i in range(3)},
                                 **{f"crit/out_projs_._{i}:0": f"word_emb/emb_projs_._{i}:0" for i in (1, 2)}}}
SHARDED = {"BartForConditionalGeneration": "40KB"}
SAFETENSORS = ("GPT2LMHeadModel",)
CACHE_OUTPUTS = ("past_key_values", "mems")


def model_inputs(kind, seed=0):
    """Right-padded `(3, 9)` inputs (row 1 keeps 5 tokens, row 2 keeps 2); seq2seq adds `(3, 7)` decoder
    inputs with right padding only (a left-padded decoder row would be fully masked at its first query).

    Kinds without token ids: `vision` (`pixel_values (3, 3, 8, 8)`), `audio` (`input_values (3, 64)`, rows
    1 and 2 right-padded to 40 and 24 samples); `clip` adds `pixel_values` to the text inputs, `lxmert`
    `visual_feats (3, 9, 11)`, `visual_pos` and a right-padded `visual_attention_mask`; `tapas` has 7 token
    type ids per token; `longformer` / `led` make the first token of each row global."""
    import numpy as np

    from tests.helpers import random_inputs

    rng = np.random.RandomState(seed + 3)
    if kind == "speech":  # 23 frames of 13 filter-bank features, rows 1 and 2 right-padded to 17 and 9 frames
        mask = (np.arange(23)[None, :] < np.array([23, 17, 9])[:, None]).astype("int64")
        inputs = {"input_features": (rng.normal(0.0, 1.0, (3, 23, 13)) * mask[:, :, None]).astype("float32"),
                  "attention_mask": mask}
        return {**inputs, **_decoder_inputs(seed)}
    if kind == "vision":
        return {"pixel_values": rng.normal(0.0, 1.0, (3, 3, 8, 8)).astype("float32")}
    if kind == "audio":
        mask = np.ones((3, 64), dtype="int64")
        mask[1, 40:] = 0
        mask[2, 24:] = 0
        return {"input_values": (rng.normal(0.0, 1.0, (3, 64)) * mask).astype("float32"), "attention_mask": mask}
    inputs = random_inputs(vocab_size=VOCAB, type_vocab_size=3 if kind in ("encoder", "layoutlm", "lxmert") else 0,
                           seed=seed)
    if kind == "clip":
        inputs["pixel_values"] = rng.normal(0.0, 1.0, (3, 3, 8, 8)).astype("float32")
    if kind == "lxmert":
        # As many boxes as tokens: TF LXMERT reshapes `visual_attention_mask` with the text's length.
        inputs["visual_feats"] = rng.normal(0.0, 1.0, (3, 9, 11)).astype("float32")
        inputs["visual_pos"] = rng.uniform(0.0, 1.0, (3, 9, 4)).astype("float32")
        visual_mask = np.ones((3, 9), dtype="int64")
        visual_mask[1, 6:] = 0
        inputs["visual_attention_mask"] = visual_mask
    if kind == "tapas":
        inputs["token_type_ids"] = np.stack([rng.randint(0, n, (3, 9)) for n in (3, 5, 5, 2, 5, 5, 5)],
                                            axis=-1).astype("int64")
    if kind in ("longformer", "led"):
        inputs["global_attention_mask"] = np.zeros((3, 9), dtype="int64")
        inputs["global_attention_mask"][:, 0] = 1
    inputs["input_ids"] = np.maximum(inputs["input_ids"], 3)  # no pad / bos / eos ids inside the text
    if kind == "ids":  # Transformer-XL takes no attention mask
        del inputs["attention_mask"]
    if kind == "layoutlm":
        rng = np.random.RandomState(seed + 2)
        corners = rng.randint(0, 32, (3, 9, 2, 2))
        inputs["bbox"] = np.concatenate([corners.min(axis=2), corners.max(axis=2)], axis=-1).astype("int64")
    if kind in ("seq2seq", "led", "rag"):
        inputs.update(_decoder_inputs(seed))
    return inputs


def _decoder_inputs(seed):
    import numpy as np

    rng = np.random.RandomState(seed + 1)
    mask = np.ones((3, 7), dtype="int64")
    mask[1, 5:] = 0
    mask[2, 3:] = 0
    return {"decoder_input_ids": rng.randint(3, VOCAB, (3, 7)).astype("int64"), "decoder_attention_mask": mask}


def rag_documents(n_docs, vector_size, seed=0):
    """What `FixedRetriever` returns for the 3 questions: `context_input_ids` / `context_attention_mask`
    `(3 * n_docs, 11)` (right-padded, pad id 1), `retrieved_doc_embeds` `(3, n_docs, vector_size)` and
    `doc_ids` `(3, n_docs)`."""
    import numpy as np

    rng = np.random.RandomState(seed + 5)
    rows = 3 * n_docs
    mask = np.ones((rows, 11), dtype="int64")
    mask[1, 8:] = 0
    mask[rows - 1, 4:] = 0
    ids = np.where(mask == 1, rng.randint(3, VOCAB, (rows, 11)), 1).astype("int64")
    return {"context_input_ids": ids, "context_attention_mask": mask,
            "retrieved_doc_embeds": rng.normal(0.0, 1.0, (3, n_docs, vector_size)).astype("float32"),
            "doc_ids": rng.randint(0, 100, (3, n_docs)).astype("int64")}


def fixed_retriever(documents):
    """A `transformers.RagRetriever` that returns `documents` (`rag_documents`) whatever the question: the
    real one needs a `datasets` index (and faiss), which a fixture cannot ship; TF RAG then computes the
    document scores from the question encoder's output, as with a real index."""
    import tensorflow as tf
    import transformers

    class FixedRetriever(transformers.RagRetriever):
        def __init__(self):  # no index, no tokenizers
            pass

        def __call__(self, question_input_ids, question_hidden_states, prefix=None, n_docs=None, return_tensors=None):
            assert n_docs * question_hidden_states.shape[0] == documents["context_input_ids"].shape[0]
            return {k: tf.constant(v) for k, v in documents.items()}

    return FixedRetriever()


def build_model(class_name, config_name, fields, kind, seed):
    """The built TF model and its inputs (NumPy) and TF inputs."""
    import tensorflow as tf
    import transformers

    tf.keras.utils.set_random_seed(seed)
    if config_name in ("EncoderDecoderConfig", "RagConfig"):  # composites: (config class, fields) per sub-model
        fields = dict(fields)
        parts = [getattr(transformers, name)(**part) for name, part in
                 (fields.pop(k) for k in (("encoder", "decoder") if config_name == "EncoderDecoderConfig"
                                          else ("question_encoder", "generator")))]
        config = (transformers.EncoderDecoderConfig.from_encoder_decoder_configs(*parts, **fields)
                  if config_name == "EncoderDecoderConfig"
                  else transformers.RagConfig.from_question_encoder_generator_configs(*parts, **fields))
    else:
        config = getattr(transformers, config_name)(**fields)
    model = getattr(transformers, f"TF{class_name}")(config)
    inputs = model_inputs(kind)
    if kind == "rag":
        model.set_retriever(fixed_retriever(rag_documents(config.n_docs, config.retrieval_vector_size)))
    tf_inputs = {k: tf.constant(v, dtype=tf.int32 if v.dtype.kind == "i" else tf.float32) for k, v in inputs.items()}
    model(tf_inputs, training=False)  # builds every variable
    return model, inputs, tf_inputs


def save_reference(directory, model, inputs, tf_inputs):
    """`reference.npz`: the inputs and every output of the TF model (the cache left out)."""
    import numpy as np

    arrays = {f"input.{k}": v for k, v in inputs.items()}
    rag = getattr(model, "rag", model) if getattr(model, "retriever", None) is not None else None
    if rag is not None:
        # TF RAG asks its sub-models for no hidden states or attentions (their configs decide): turn them on, as
        # tfmodels returns them; and store the retriever's documents (`retriever.*`), which the test serves.
        for sub_model in (rag.question_encoder, rag.generator):
            sub_model.config.output_hidden_states = sub_model.config.output_attentions = True
        documents = rag.retriever(None, np.zeros((3, 1)), n_docs=model.config.n_docs)
        arrays.update({f"retriever.{k}": np.asarray(v) for k, v in documents.items()})
    options = {"output_retrieved": True} if rag is not None else {}  # TF RAG's option is not read from its config
    outputs = model(tf_inputs, training=False, output_hidden_states=True, output_attentions=True, **options)
    def add(name, value):
        if name in CACHE_OUTPUTS or value is None:
            return
        if hasattr(value, "keys"):  # a nested output (CLIP's `text_model_output`): `name/field`
            for field, inner in value.items():
                add(f"{name}/{field}", inner)
        elif isinstance(value, (tuple, list)):
            arrays.update({f"{name}.{i}": np.asarray(t) for i, t in enumerate(value)})
        else:
            arrays[name] = np.asarray(value)

    for name, value in outputs.items():
        add(name, value)
    np.savez_compressed(directory / "reference.npz", **arrays)


def build_fixtures():
    import argparse
    import json

    import numpy as np

    from tests.tf_h5_weights import synthetic_value

    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", default=None, help="build only these classes (names without TF)")
    only = parser.parse_known_args()[0].only
    unknown = set(only or ()) - set(MODELS) - set(VARIABLE_MODELS)
    if unknown:
        raise SystemExit(f"--only: no fixture class {sorted(unknown)}")

    for index, (class_name, (config_name, fields, kind)) in enumerate(MODELS.items()):
        if only and class_name not in only:
            continue
        directory = OUT / class_name
        model, inputs, tf_inputs = build_model(class_name, config_name, fields, kind, index)
        rng = np.random.RandomState(index)
        for weight in model.weights:
            weight.assign(weight.numpy() + rng.normal(0.0, 0.05, weight.shape).astype(weight.dtype.as_numpy_dtype))
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("tf_model*"):
            stale.unlink()
        model.save_pretrained(str(directory), max_shard_size=SHARDED.get(class_name, "10GB"))
        save_reference(directory, model, inputs, tf_inputs)
        if class_name in SAFETENSORS:
            model.save_pretrained(str(OUT / "safetensors" / class_name), safe_serialization=True)
            (OUT / "safetensors" / class_name / "generation_config.json").unlink(missing_ok=True)
        names = sorted(p.name for p in directory.iterdir())
        architectures = json.loads((directory / "config.json").read_text())["architectures"]
        print(f"wrote {directory}: {names}; architectures={architectures}")

    for index, (class_name, (config_name, fields, kind)) in enumerate(VARIABLE_MODELS.items()):
        if only and class_name not in only:
            continue
        directory = OUT / "variables" / class_name
        directory.mkdir(parents=True, exist_ok=True)
        try:
            model, inputs, tf_inputs = build_model(class_name, config_name, fields, kind, index)
        except Exception as e:  # noqa: BLE001  (report and go on with the other classes)
            print(f"SKIPPED {class_name}: {type(e).__name__}: {e}")
            continue
        variables, constants = {}, {}
        for weight in model.weights:
            if weight.name in variables:
                continue
            variables[weight.name] = list(weight.shape)
            if weight.trainable and not weight.name.endswith(FIXED.get(class_name, ())):
                weight.assign(synthetic_value(weight.name, tuple(weight.shape), weight.dtype.as_numpy_dtype))
            else:
                constants[weight.name] = weight.numpy()
        by_name = {w.name: w for w in model.weights}
        for copy, source in TIED.get(class_name, {}).items():
            source, layout = source if isinstance(source, tuple) else (source, None)
            (copy_name,) = [n for n in by_name if n.endswith("/" + copy)]
            (source_name,) = [n for n in by_name if n.endswith("/" + source)]
            value = by_name[source_name].numpy()
            value = value.T if layout == "T" else value  # a kernel `(in, out)` that is a table `(out, in)`
            by_name[copy_name].assign(value)
            constants[copy_name] = value
        model.config.architectures = [class_name]
        model.config.to_json_file(str(directory / "config.json"))
        (directory / "variables.json").write_text(json.dumps(variables, indent=0) + "\n")
        if constants:
            np.savez_compressed(directory / "constants.npz", **constants)
        layers = h5_layers(model, variables)
        (directory / "h5_layers.json").unlink(missing_ok=True)
        if layers:
            (directory / "h5_layers.json").write_text(json.dumps(layers, indent=0) + "\n")
        save_reference(directory, model, inputs, tf_inputs)
        print(f"wrote {directory} ({len(variables)} variables)")


def h5_layers(model, variables):
    """`{TF variable name: layer group}` of the variables that Keras 2's `save_weights` writes under another
    group than `tests.tf_h5_weights.write_keras2_h5` assumes (RAG's `final_logits_bias:0`, a one-level name,
    lives under the `generator` layer); empty for most models."""
    import tempfile

    import h5py

    from tests.tf_h5_weights import default_layer

    with tempfile.TemporaryDirectory() as tmp:
        model.save_weights(f"{tmp}/tf_model.h5")
        with h5py.File(f"{tmp}/tf_model.h5", "r") as f:
            written = {}
            for layer in f.attrs["layer_names"]:
                layer = layer.decode() if isinstance(layer, bytes) else layer
                for name in f[layer].attrs["weight_names"]:
                    written.setdefault(name.decode() if isinstance(name, bytes) else name, layer)
    assert set(written) == set(variables), sorted(set(written) ^ set(variables))
    return {name: layer for name, layer in written.items() if layer != default_layer(name)}


def main():
    run_builder(__file__, TRANSFORMERS_VERSION, build_fixtures, __doc__.splitlines()[0], "/tmp/h5-venv",
                packages=PACKAGES, system_site_packages=False)


if __name__ == "__main__":
    main()

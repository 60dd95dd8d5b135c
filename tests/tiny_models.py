"""One tiny random configuration per `model_type`, for tests that run every exported class.

Fields are Hugging Face `config.json` names (what the tfmodels constructors
take). Sizes are odd where a family allows it, so a transposed or misplaced
weight cannot hide behind a square shape.
"""

import json
from pathlib import Path

import numpy as np

import tfmodels

_BERT_LIKE = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  max_position_embeddings=64, type_vocab_size=3)
_VISION = dict(image_size=30, patch_size=6, num_channels=3, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=37, encoder_stride=6, num_labels=3)
_CLIP_TEXT = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=20, projection_dim=24, bos_token_id=97, eos_token_id=98, pad_token_id=1)
_CLIP_VISION = dict(image_size=30, patch_size=6, hidden_size=40, intermediate_size=45, num_hidden_layers=3,
                    num_attention_heads=5, projection_dim=24)
_TRANSFO_XL = Path(__file__).parent / "fixtures" / "transfo_xl" / "no_clusters" / "config.json"

# The BART-family sizes of tests/test_s2s_families_parity.py (unequal depths, FFN sizes and head counts).
_SEQ2SEQ = dict(max_position_embeddings=40, d_model=30, encoder_layers=2, decoder_layers=3, encoder_attention_heads=3,
                decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29, pad_token_id=1, eos_token_id=2,
                bos_token_id=0, decoder_start_token_id=2)

_PROPHETNET = dict(vocab_size=41, hidden_size=36, encoder_ffn_dim=31, decoder_ffn_dim=29, num_encoder_layers=3,
                   num_decoder_layers=2, num_encoder_attention_heads=4, num_decoder_attention_heads=3,
                   max_position_embeddings=40, ngram=3, num_buckets=8, relative_max_distance=12)

TINY_CONFIGS = {
    "bert": _BERT_LIKE,
    "layoutlm": dict(_BERT_LIKE, max_2d_position_embeddings=50),
    "megatron-bert": _BERT_LIKE,
    "dpr": _BERT_LIKE,
    "roberta": dict(_BERT_LIKE, type_vocab_size=1, pad_token_id=1),
    "xlm-roberta": dict(_BERT_LIKE, type_vocab_size=1, pad_token_id=1),
    "camembert": dict(_BERT_LIKE, type_vocab_size=1, pad_token_id=1),
    "electra": dict(_BERT_LIKE, embedding_size=24),
    "albert": dict(_BERT_LIKE, embedding_size=24, num_hidden_groups=1, inner_group_num=1),
    "mobilebert": dict(_BERT_LIKE, embedding_size=16, intra_bottleneck_size=24, intermediate_size=20,
                       num_feedforward_networks=3),
    "squeezebert": dict(_BERT_LIKE, embedding_size=32, intermediate_size=48, q_groups=2, k_groups=4, v_groups=2,
                        post_attention_groups=1, intermediate_groups=4, output_groups=2),
    "deberta": dict(_BERT_LIKE, relative_attention=True, pos_att_type=["c2p", "p2c"], max_relative_positions=16),
    "deberta-v2": dict(_BERT_LIKE, relative_attention=True, pos_att_type=["c2p", "p2c"], position_buckets=8,
                       share_att_key=True, norm_rel_ebd="layer_norm", conv_kernel_size=3),
    "roformer": dict(_BERT_LIKE, embedding_size=24),
    "mpnet": dict(_BERT_LIKE, max_position_embeddings=160),
    "convbert": dict(_BERT_LIKE, intermediate_size=36, embedding_size=24, conv_kernel_size=3),
    "distilbert": dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64),
    "xlm": dict(vocab_size=99, emb_dim=32, n_layers=2, n_heads=4, max_position_embeddings=64, n_langs=3),
    "flaubert": dict(vocab_size=99, emb_dim=32, n_layers=2, n_heads=4, max_position_embeddings=64, n_langs=3),
    "funnel": dict(vocab_size=99, block_sizes=[1, 2], num_decoder_layers=1, d_model=32, n_head=4, d_head=8,
                   d_inner=37),
    "xlnet": dict(vocab_size=99, d_model=32, n_layer=2, n_head=4, d_inner=37, mem_len=None),
    "gpt2": dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, n_inner=37, pad_token_id=0),
    "openai-gpt": dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64),
    "ctrl": dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, dff=37),
    "gpt_neo": dict(vocab_size=99, hidden_size=32, num_layers=2, num_heads=4, max_position_embeddings=64,
                    intermediate_size=37, window_size=3, attention_types=[[["global", "local"], 1]]),
    "t5": dict(vocab_size=99, d_model=20, d_kv=7, d_ff=23, num_layers=2, num_decoder_layers=3, num_heads=3,
               relative_attention_num_buckets=8, relative_attention_max_distance=12, decoder_start_token_id=0),
    "mt5": dict(vocab_size=99, d_model=20, d_kv=7, d_ff=23, num_layers=2, num_decoder_layers=1, num_heads=3,
                relative_attention_num_buckets=8, relative_attention_max_distance=12, feed_forward_proj="gated-gelu",
                tie_word_embeddings=False, decoder_start_token_id=0),
    "bart": dict(vocab_size=99, max_position_embeddings=40, d_model=30, encoder_layers=2, decoder_layers=3,
                 encoder_attention_heads=3, decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29,
                 scale_embedding=True),
    "mbart": dict(vocab_size=99, max_position_embeddings=40, d_model=30, encoder_layers=1, decoder_layers=2,
                  encoder_attention_heads=5, decoder_attention_heads=3, encoder_ffn_dim=29, decoder_ffn_dim=37,
                  decoder_start_token_id=2),
    "marian": dict(vocab_size=99, max_position_embeddings=40, d_model=30, encoder_layers=2, decoder_layers=1,
                   encoder_attention_heads=3, decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29,
                   share_encoder_decoder_embeddings=False, decoder_vocab_size=77, pad_token_id=1, eos_token_id=2,
                   decoder_start_token_id=1),
    "pegasus": dict(vocab_size=99, max_position_embeddings=40, d_model=35, encoder_layers=1, decoder_layers=2,
                    encoder_attention_heads=5, decoder_attention_heads=7, encoder_ffn_dim=29, decoder_ffn_dim=37,
                    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0),
    "blenderbot": dict(_SEQ2SEQ, vocab_size=99, scale_embedding=True),
    "blenderbot-small": dict(_SEQ2SEQ, vocab_size=99, scale_embedding=True),
    "m2m_100": dict(_SEQ2SEQ, vocab_size=99, encoder_layers=3, decoder_layers=2, encoder_ffn_dim=29,
                    decoder_ffn_dim=37, scale_embedding=True),
    "fsmt": dict(_SEQ2SEQ, langs=["en", "de"], src_vocab_size=99, tgt_vocab_size=53, scale_embedding=True),
    "longformer": dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=37, max_position_embeddings=40, type_vocab_size=2, pad_token_id=1,
                       sep_token_id=2, attention_window=[4, 8]),
    "led": dict(vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4,
                decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=29, max_encoder_position_embeddings=40,
                max_decoder_position_embeddings=24, attention_window=[4, 8]),
    # Vision: 30x30 images in 6x6 patches (a 5x5 grid); CLIP's text tower with a real eos id.
    "vit": _VISION,
    "deit": _VISION,
    "clip_text_model": _CLIP_TEXT,
    "clip_vision_model": _CLIP_VISION,
    "clip": dict(text_config=_CLIP_TEXT, vision_config=_CLIP_VISION, projection_dim=24),
    # Speech: a two-layer feature encoder of odd widths, hidden 36 in 3 heads, 4 positional-conv groups.
    "wav2vec2": dict(hidden_size=36, num_hidden_layers=2, num_attention_heads=3, intermediate_size=37,
                     conv_dim=(10, 14), conv_stride=(3, 2), conv_kernel=(5, 3), num_conv_pos_embeddings=5,
                     num_conv_pos_embedding_groups=4, vocab_size=11, codevector_dim=12, proj_codevector_dim=10,
                     num_codevectors_per_group=7, num_codevector_groups=2, classifier_proj_size=9, num_labels=3),
    # tests/test_speech2text_parity.py's sizes: a two-layer subsampler (kernels 5, 3) over 13 features.
    "speech_to_text": dict({k: v for k, v in _SEQ2SEQ.items() if k != "max_position_embeddings"}, vocab_size=61,
                           max_source_positions=40, max_target_positions=30, num_conv_layers=2,
                           conv_kernel_sizes=(5, 3), conv_channels=22, input_feat_per_channel=13),
    "big_bird": dict(_BERT_LIKE, max_position_embeddings=128, block_size=4, num_random_blocks=2),
    "bert-generation": {k: v for k, v in _BERT_LIKE.items() if k != "type_vocab_size"},
    # BERT2GPT2 with unequal widths (`enc_to_dec_proj`); the decoder vocabulary covers the encoder's.
    "encoder-decoder": dict(encoder=dict(_BERT_LIKE, model_type="bert"),
                            decoder=dict(model_type="gpt2", vocab_size=101, n_embd=24, n_layer=2, n_head=3,
                                         n_positions=64, is_decoder=True, add_cross_attention=True),
                            decoder_start_token_id=3, pad_token_id=0),
    "bigbird_pegasus": dict(vocab_size=99, max_position_embeddings=128, d_model=32, encoder_layers=2, decoder_layers=1,
                            encoder_attention_heads=4, decoder_attention_heads=2, encoder_ffn_dim=37,
                            decoder_ffn_dim=29, block_size=4, num_random_blocks=2),
    # hash_seed: LSH rotations drawn deterministically, so repeated calls agree.
    "reformer": dict(vocab_size=99, hidden_size=32, num_attention_heads=2, attention_head_size=7,
                     attn_layers=["local", "lsh"], axial_pos_shape=[4, 8], axial_pos_embds_dim=[13, 19],
                     feed_forward_size=37, lsh_attn_chunk_length=4, local_attn_chunk_length=4, num_buckets=4,
                     num_hashes=2, hash_seed=1, max_position_embeddings=32),
    "luke": dict(_BERT_LIKE, type_vocab_size=2, pad_token_id=1, entity_vocab_size=37, entity_emb_size=17),
    "ibert": dict(_BERT_LIKE, type_vocab_size=2, pad_token_id=1, hidden_act="gelu"),
    # A DPR question encoder + a BART generator, 2 documents per question.
    "rag": dict(question_encoder=dict(_BERT_LIKE, model_type="dpr", projection_dim=0),
                generator=dict(model_type="bart", vocab_size=99, max_position_embeddings=40, d_model=30,
                               encoder_layers=2, decoder_layers=1, encoder_attention_heads=3,
                               decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29),
                n_docs=2, retrieval_vector_size=32),
    "tapas": dict({k: v for k, v in _BERT_LIKE.items() if k != "type_vocab_size"},
                  type_vocab_sizes=[3, 7, 7, 2, 7, 7, 10], max_num_rows=7, max_num_columns=7, num_aggregation_labels=4),
    "lxmert": dict(vocab_size=99, hidden_size=32, num_attention_heads=4, intermediate_size=37, l_layers=2, r_layers=3,
                   x_layers=2, visual_feat_dim=13, num_qa_labels=7, num_object_labels=11, num_attr_labels=5,
                   max_position_embeddings=64, type_vocab_size=3),
    "retribert": dict(_BERT_LIKE, share_encoders=False, projection_dim=11),
    "mmbt": dict(_BERT_LIKE, modal_hidden_size=7, num_labels=3),  # + a fresh `encoder`, see `tiny_config`
    # tests/test_prophetnet_parity.py's sizes (unequal stacks, ngram 3, log-range buckets).
    "prophetnet": _PROPHETNET,
    "xlm-prophetnet": _PROPHETNET,
}


def _transfo_xl_config():
    config = json.loads(_TRANSFO_XL.read_text())
    return {k: v for k, v in config.items() if k not in ("architectures", "model_type", "torch_dtype",
                                                         "transformers_version")}


def exported_model_classes():
    """Names of every `PreTrainedModel` subclass exported by `tfmodels`, sorted."""
    return sorted(
        name for name in tfmodels.__all__
        if isinstance(getattr(tfmodels, name), type)
        and issubclass(getattr(tfmodels, name), tfmodels.PreTrainedModel)
        and getattr(tfmodels, name) is not tfmodels.PreTrainedModel
    )


def one_class_per_family():
    """The first exported class (sorted by name) of each `model_type`."""
    chosen = {}
    for name in exported_model_classes():
        chosen.setdefault(getattr(tfmodels, name).model_type, name)
    return sorted(chosen.values())


def tiny_config(model_type):
    """The tiny config dict of `model_type` (a copy)."""
    if model_type == "transfo-xl":
        return _transfo_xl_config()
    if model_type == "mmbt":  # MMBT takes its image encoder at construction: the fixtures' tiny one
        from tests.mmbt_encoder import TinyImageEncoder

        return {**TINY_CONFIGS[model_type], "encoder": TinyImageEncoder(7)}
    return dict(TINY_CONFIGS[model_type])


def loading_objects(model_type):
    """Constructor objects a family takes besides its config, to pass to `from_pretrained` (MMBT's encoder)."""
    return {"encoder": tiny_config(model_type)["encoder"]} if model_type == "mmbt" else {}


def tiny_model(class_name, **overrides):
    """`tfmodels.<class_name>` with its family's tiny config, built (random weights)."""
    cls = getattr(tfmodels, class_name)
    return cls(**{**tiny_config(cls.model_type), **overrides}).build_from_dummy_inputs()


def random_model_inputs(model, batch_size=2, seq_len=6, seed=0):
    """Inputs shaped like `model.dummy_inputs()`, with random token ids in `[1, vocab)`."""
    rng = np.random.RandomState(seed)
    inputs = model.dummy_inputs(batch_size=batch_size, seq_len=seq_len)
    for name in ("pixel_values", "input_values", "input_features", "visual_feats", "visual_pos",
                 "input_modal"):  # float: random
        if name in inputs:
            inputs[name] = rng.randn(*inputs[name].shape).astype("float32")
    if "input_ids" not in inputs:
        return inputs
    vocab_size = model.config.get("vocab_size", 40)
    if model.config.get("decoder_vocab_size"):  # Marian with its own target table: ids valid on both sides
        vocab_size = min(vocab_size, model.config["decoder_vocab_size"])
    inputs["input_ids"] = rng.randint(1, vocab_size, size=inputs["input_ids"].shape).astype("int32")
    if getattr(model, "eos_pooling", False):  # T5ForSequenceClassification: one eos per row, at the end
        eos = model.backbone.config["eos_token_id"]
        inputs["input_ids"] = np.where(inputs["input_ids"] == eos, eos + 1, inputs["input_ids"])
        inputs["input_ids"][:, -1] = eos
    return inputs

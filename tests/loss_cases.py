"""One tiny model and one labelled batch per head family with a task loss.

Shared by the distribution test (tests/distributed_job.py `families`) and the
sample-weight tests. Every model is dropout-free, so two replicas compute
what one device computes. Batches hold 4 examples: a 2-replica
`MirroredStrategy` gives examples 0-1 to the first replica and 2-3 to the
second, and the labels are laid out so that the two halves hold different
numbers of valid (not -100 / not padding) labels.
"""

from pathlib import Path

import numpy as np

BATCH, SEQ, VOCAB = 4, 8, 60
NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
BERT = dict(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
            max_position_embeddings=32, type_vocab_size=2, num_labels=3, **NO_DROPOUT)
TRANSFO_XL = Path(__file__).parent / "fixtures" / "transfo_xl" / "adaptive_div2"

# family: (tfmodels class name, constructor kwargs, kinds of labels)
CASES = {
    "sequence_classification": ("BertForSequenceClassification", BERT, {"labels": "class"}),
    "token_classification": ("BertForTokenClassification", BERT, {"labels": "token_class"}),
    "question_answering": ("BertForQuestionAnswering", dict(BERT, num_labels=2),
                           {"start_positions": "position", "end_positions": "position"}),
    "masked_lm": ("BertForMaskedLM", BERT, {"labels": "tokens"}),
    "causal_lm": ("GPT2LMHeadModel", dict(vocab_size=VOCAB, n_embd=16, n_layer=1, n_head=2, n_positions=32,
                                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0), {"labels": "tokens"}),
    "bert_pretraining": ("BertForPreTraining", dict(BERT, num_labels=2),
                         {"labels": "tokens", "next_sentence_label": "pair"}),
    "electra_pretraining": ("ElectraForPreTraining", dict(BERT, embedding_size=8), {"labels": "binary"}),
    "funnel_pretraining": ("FunnelForPreTraining", dict(
        vocab_size=VOCAB, block_sizes=[1, 1], num_decoder_layers=1, d_model=16, n_head=2, d_head=8, d_inner=20,
        hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0), {"labels": "binary"}),
    "albert_pretraining": ("AlbertForPreTraining", dict(BERT, embedding_size=8, num_labels=2, classifier_dropout_prob=0.0),
                           {"labels": "tokens", "sentence_order_label": "pair"}),
    "mobilebert_pretraining": ("MobileBertForPreTraining", dict(
        BERT, embedding_size=8, intra_bottleneck_size=12, num_feedforward_networks=2, true_hidden_size=12,
        num_labels=2), {"labels": "tokens", "next_sentence_label": "pair"}),
    "transfo_xl_adaptive": ("TransfoXLLMHeadModel", None, {"labels": "tokens"}),
    "xlnet_lm": ("XLNetLMHeadModel", dict(vocab_size=VOCAB, d_model=16, n_layer=1, n_head=2, d_inner=20, dropout=0.0),
                 {"labels": "tokens"}),
}

# Valid lengths per example: the first replica's half holds more tokens than the second's.
LENGTHS = (8, 7, 3, 5)


def build(family):
    """The family's tiny model (random weights; the Transformer-XL fixture checkpoint)."""
    import tfmodels

    class_name, config, _ = CASES[family]
    cls = getattr(tfmodels, class_name)
    if config is None:
        return cls.from_pretrained(TRANSFO_XL)
    return cls(**config).build_from_dummy_inputs()


def batch(family, seed=0):
    """`(inputs, labels)` NumPy dicts for the family: padded inputs, uneven valid-label counts."""
    rng = np.random.RandomState(seed)
    mask = (np.arange(SEQ)[None, :] < np.asarray(LENGTHS)[:, None]).astype("int32")
    inputs = {"input_ids": np.where(mask == 1, rng.randint(1, VOCAB, (BATCH, SEQ)), 0).astype("int32")}
    if family != "transfo_xl_adaptive":  # no attention mask there
        inputs["attention_mask"] = mask
    keep = (mask == 1) & (rng.rand(BATCH, SEQ) < 0.7)  # -100 on padding and on ~30 % of the rest
    makers = {
        "class": lambda: rng.randint(0, 3, (BATCH,)),
        "pair": lambda: rng.randint(0, 2, (BATCH,)),
        "position": lambda: rng.randint(0, SEQ + 2, (BATCH,)),  # some out of range: ignored
        "token_class": lambda: np.where(keep, rng.randint(0, 3, (BATCH, SEQ)), -100),
        "tokens": lambda: np.where(keep, inputs["input_ids"], -100),
        "binary": lambda: rng.randint(0, 2, (BATCH, SEQ)),  # padding is ignored through attention_mask
    }
    _, _, kinds = CASES[family]
    labels = {name: makers[kind]().astype("int32") for name, kind in kinds.items()}
    return inputs, labels

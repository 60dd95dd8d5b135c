"""Builds the RetriBERT and MMBT reference fixtures under tests/fixtures/{retribert,mmbt}/.

`transformers` 5 no longer ships RetriBERT or MMBT; the last releases had them
under `transformers.models.deprecated` (4.46.3 here), run in a throwaway
virtual environment that reuses the system's CPU `torch`:

    python scripts/make_retribert_mmbt_fixtures.py     # creates /tmp/transformers-4.46.3-venv if needed
    python scripts/make_retribert_mmbt_fixtures.py --venv DIR

RetriBERT (`shared`: `share_encoders=True`; `separate`: two towers): the
checkpoint as `save_pretrained` writes it, and `reference.npz` with the padded
inputs (`input_ids_query`, `attention_mask_query`, `input_ids_doc`,
`attention_mask_doc`), the `loss` of `forward`, and `embed_questions` /
`embed_answers` on the same inputs (`question_embeds`, `answer_embeds`).

MMBT (`MMBTModel`, `MMBTForClassification`) is an `nn.Module` without
`save_pretrained`: `config.json` is the BERT config plus `model_type="mmbt"`,
`modal_hidden_size` (and `num_labels`), `model.safetensors` the state dict
without the embedding tables `ModalEmbeddings` shares with the BERT (stored
once, under `transformer.embeddings`). The image encoder is `TinyImageEncoder`
below (one strided convolution + adaptive average pooling to 2 tokens), whose
weights are in the checkpoint under `modal_encoder.encoder.conv`; the tests
build the same encoder in Keras (`tests/mmbt_encoder.py`). `reference.npz`
holds two calls: `special.*` (start and end tokens, padded text) and
`plain.*` (no special tokens, no mask, explicit token types), each with its
inputs, `last_hidden_state` / `pooler_output` or `logits` (+ `loss` with
`labels`), `hidden_states.{i}` and `attentions.{i}`.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_venv import run_builder  # noqa: E402

TRANSFORMERS_VERSION = "4.46.3"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures"

BERT_FIELDS = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                   max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu", hidden_dropout_prob=0.0,
                   attention_probs_dropout_prob=0.0)
RETRIBERT = {"shared": dict(share_encoders=True, projection_dim=16),
             "separate": dict(share_encoders=False, projection_dim=11, num_hidden_layers=3)}
MODAL_HIDDEN_SIZE, NUM_LABELS = 7, 3


def _randomize(model, seed=1):
    """Small random biases / LayerNorm shifts, so misplaced weights cannot hide behind zeros and ones."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, param in model.named_parameters():
            if key.endswith("bias") or "LayerNorm" in key:
                param.add_(0.1 * torch.randn(param.shape, generator=generator))


def _padded(rng, batch, seq_len, lengths):
    import numpy as np

    ids = rng.randint(1, BERT_FIELDS["vocab_size"], (batch, seq_len)).astype("int64")
    mask = np.ones((batch, seq_len), dtype="int64")
    for row, length in enumerate(lengths, start=1):
        mask[row, length:] = 0
    return ids, mask


def build_retribert():
    import numpy as np
    import torch
    from transformers.models.deprecated.retribert import RetriBertConfig, RetriBertModel

    for name, fields in RETRIBERT.items():
        torch.manual_seed(0)
        # 4.46.3's BertModel reads `position_embedding_type`, which RetriBertConfig does not define.
        config = RetriBertConfig(**{**BERT_FIELDS, **fields}, position_embedding_type="absolute")
        model = RetriBertModel(config).eval()
        _randomize(model)
        directory = OUT / "retribert" / name
        model.save_pretrained(str(directory), safe_serialization=True)
        rng = np.random.RandomState(0)
        ids_q, mask_q = _padded(rng, 3, 7, (4, 2))
        ids_d, mask_d = _padded(rng, 3, 10, (6, 3))
        t = {k: torch.as_tensor(v) for k, v in dict(ids_q=ids_q, mask_q=mask_q, ids_d=ids_d, mask_d=mask_d).items()}
        with torch.no_grad():
            arrays = dict(
                input_ids_query=ids_q, attention_mask_query=mask_q, input_ids_doc=ids_d, attention_mask_doc=mask_d,
                loss=model(t["ids_q"], t["mask_q"], t["ids_d"], t["mask_d"]).numpy(),
                question_embeds=model.embed_questions(t["ids_q"], t["mask_q"]).numpy(),
                answer_embeds=model.embed_answers(t["ids_d"], t["mask_d"]).numpy(),
            )
        np.savez_compressed(directory / "reference.npz", **arrays)
        print(f"wrote {directory}")


def _tiny_image_encoder_class():
    from torch import nn

    class TinyImageEncoder(nn.Module):
        """`(batch, 3, 8, 8)` pixels -> `(batch, 2, channels)`: a 4x4 stride-4 convolution, then average pooling
        over the width (`AdaptiveAvgPool2d((2, 1))`), one token per row."""

        def __init__(self, channels):
            super().__init__()
            self.conv = nn.Conv2d(3, channels, kernel_size=4, stride=4)
            self.pool = nn.AdaptiveAvgPool2d((2, 1))

        def forward(self, x):
            return self.pool(self.conv(x)).flatten(start_dim=2).transpose(1, 2)

    return TinyImageEncoder


def _mmbt_calls(rng):
    import numpy as np

    batch = 3
    ids, mask = _padded(rng, batch, 8, (5, 3))
    pixels = rng.randn(batch, 3, 8, 8).astype("float32")
    special = dict(input_modal=pixels, input_ids=ids, attention_mask=mask,
                   modal_start_tokens=np.array([2, 2, 2], dtype="int64"),
                   modal_end_tokens=np.array([3, 3, 3], dtype="int64"))
    plain = dict(input_modal=rng.randn(batch, 3, 8, 8).astype("float32"), input_ids=ids,
                 token_type_ids=rng.randint(0, 3, ids.shape).astype("int64"))
    return {"special": special, "plain": plain}


def build_mmbt():
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel
    from transformers.models.deprecated.mmbt import MMBTConfig, MMBTForClassification, MMBTModel

    encoder_class = _tiny_image_encoder_class()
    for class_name, model_class in (("MMBTModel", MMBTModel), ("MMBTForClassification", MMBTForClassification)):
        torch.manual_seed(0)
        bert_config = BertConfig(**BERT_FIELDS, output_hidden_states=True, output_attentions=True)
        bert_config._attn_implementation = "eager"  # attention probabilities, as the tests compare them
        config = MMBTConfig(bert_config, num_labels=NUM_LABELS, modal_hidden_size=MODAL_HIDDEN_SIZE)
        model = model_class(config, BertModel(bert_config), encoder_class(MODAL_HIDDEN_SIZE)).eval()
        _randomize(model)
        directory = OUT / "mmbt" / class_name
        directory.mkdir(parents=True, exist_ok=True)
        fields = {**bert_config.to_diff_dict(), "model_type": "mmbt", "modal_hidden_size": MODAL_HIDDEN_SIZE,
                  "architectures": [class_name]}
        for key in ("output_hidden_states", "output_attentions", "_attn_implementation_autoset"):
            fields.pop(key, None)
        if class_name == "MMBTForClassification":
            fields["num_labels"] = NUM_LABELS
            fields["id2label"] = {str(i): f"LABEL_{i}" for i in range(NUM_LABELS)}
            fields["label2id"] = {f"LABEL_{i}": i for i in range(NUM_LABELS)}
        (directory / "config.json").write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n")
        shared = ("word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm")
        state = {k: v.contiguous() for k, v in model.state_dict().items()
                 if not any(f"modal_encoder.{name}." in k for name in shared)}
        save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
        rng = np.random.RandomState(0)
        arrays = {}
        for case, inputs in _mmbt_calls(rng).items():
            if class_name == "MMBTForClassification":
                inputs = {**inputs, "labels": np.array([0, 2, 1], dtype="int64")}
            with torch.no_grad():
                out = model(**{k: torch.as_tensor(v) for k, v in inputs.items()}, return_dict=True)
            for key, value in inputs.items():
                arrays[f"{case}.input.{key}"] = value
            for key, value in out.items():
                if isinstance(value, tuple):
                    for i, tensor in enumerate(value):
                        arrays[f"{case}.output.{key}.{i}"] = tensor.numpy()
                else:
                    arrays[f"{case}.output.{key}"] = value.numpy()
        np.savez_compressed(directory / "reference.npz", **arrays)
        print(f"wrote {directory}")


def build_fixtures():
    build_retribert()
    build_mmbt()


def main():
    run_builder(__file__, TRANSFORMERS_VERSION, build_fixtures, __doc__.splitlines()[0],
                "/tmp/transformers-4.46.3-venv")


if __name__ == "__main__":
    main()

"""Legacy Hugging Face TF checkpoints (`tf_model.h5`, sharded `tf_model-0000k-of-0000n.h5`).

The fixtures under `tests/fixtures/tf_h5/` were written by the TF models of
`transformers` 4.46.3 (TensorFlow 2.15, tf-keras) with `save_pretrained`, with
the TF models' outputs on padded inputs (`scripts/make_tf_h5_fixtures.py`;
`transformers` 5 has no TF models). Each loads with our `from_pretrained`
and must reproduce every stored output (hidden states and attentions
included) within 1e-5. `BartForConditionalGeneration` is stored in shards
with `tf_model.h5.index.json`.

More families come as `variables/<class>/` fixtures: the TF variable names and
shapes, the config and the outputs of the TF model whose weights were
`tests.tf_h5_weights.synthetic_value(name, shape)`; the test writes the same
weights into a Keras 2 `tf_model.h5` (`write_keras2_h5`) and loads it. Nested
outputs (CLIP's `text_model_output`) are stored as `name/field` entries. RAG
fixtures also store the documents their stand-in retriever returned
(`retriever.*`), which the test serves to our model (`FixedRetriever`). The
classes of `SLOW_CLASSES` and all variable fixtures but `DEFAULT_VARIABLE_CLASSES`
run with `-m slow`, to keep the default suite short.
"""

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import tfmodels
from tests.helpers import _to_numpy, compare_outputs
from tests.tf_h5_weights import write_keras2_h5
from tfmodels.cli import main
from tfmodels.converters import CheckpointError, WeightMismatchError
from tfmodels.converters import files
from tfmodels.converters.tf_h5 import pytorch_key

FIXTURES = Path(__file__).parent / "fixtures" / "tf_h5"
CLASSES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name not in ("variables", "safetensors"))
# BertModel's outputs are all compared in the default suite by test_hub_id_with_tf_weights_from_offline_cache.
SLOW_CLASSES = ("BertForMaskedLM", "BertModel")
VARIABLE_CLASSES = sorted(p.name for p in (FIXTURES / "variables").iterdir())
DEFAULT_VARIABLE_CLASSES = (
    "ConvBertModel",  # separable convolutions: depthwise / pointwise kernels, (C, 1) biases
    "CLIPModel",  # the `clip` main-layer scope, a Conv2D patch kernel, nested outputs
    "Wav2Vec2ForCTC",  # Conv1D feature-encoder kernels, the weight-normalised positional convolution
    "EncoderDecoderModel",  # a TF composite: the encoder's main-layer scope renamed (WeightTable.tf_renames)
)
# transformers 4.46's TF DeBERTa zeroes the attention probabilities of padded queries (its XSoftmax) where
# transformers 5's PyTorch DeBERTa, which tfmodels follows, spreads them uniformly; so outputs at padded query
# positions differ by design, and these classes are compared at the other positions.
VALID_POSITIONS_ONLY = ("DebertaModel", "DebertaV2Model")
# XLNet's `mems` is its cache (like `past_key_values`), which the fixtures leave out. TF RAG (4.46) returns no
# `generator_cross_attentions` (its output classes have no such field); tests/test_rag_parity.py compares them
# with PyTorch RAG.
SKIP_OUTPUTS = {"XLNetLMHeadModel": ("mems",),
                **{name: ("generator_cross_attentions",) for name in
                   ("RagModel", "RagTokenForGeneration", "RagSequenceForGeneration")}}
# Transformer-XL's log-probabilities: `prediction_scores` in transformers 4.46, `logits` in tfmodels.
RENAMED_OUTPUTS = {"TransfoXLLMHeadModel": {"prediction_scores": "logits"}}
# `{class: {nested output: fields}}` not compared. CLIP's towers' `pooler_output`: transformers 4.46 returns the
# pooled hidden state, transformers 5 (which tfmodels follows) its projection; both towers' projections are
# compared through `text_embeds` / `image_embeds` (the normalised projections) and the logits.
SKIP_NESTED_OUTPUTS = {"CLIPModel": {"text_model_output": ("pooler_output",),
                                     "vision_model_output": ("pooler_output",)}}
BERT = FIXTURES / "BertModel"
BERT_QUERY_1 = "tf_bert_model/bert/encoder/layer_._1/attention/self/query/kernel:0"


def _rebuild(arrays):
    """Outputs from flat entries: tuples of per-layer tensors from `name.{i}`, nested outputs (CLIP's
    `text_model_output`) from `name/field...`."""
    outputs, tuples, nested = {}, {}, {}
    for key, value in arrays.items():
        outer, slash, inner = key.partition("/")
        if slash:
            nested.setdefault(outer, {})[inner] = value
            continue
        name, _, index = key.partition(".")
        if index:
            tuples.setdefault(name, {})[int(index)] = value
        else:
            outputs[name] = value
    outputs.update({name: tuple(parts[i] for i in sorted(parts)) for name, parts in tuples.items()})
    outputs.update({name: _rebuild(fields) for name, fields in nested.items()})
    return outputs


def reference(directory):
    """`(inputs, outputs)` of a fixture (outputs rebuilt by `_rebuild`; a RAG fixture's `retriever.*`
    entries, the documents its retriever served, are in neither: `retrieved_documents`)."""
    arrays = dict(np.load(Path(directory) / "reference.npz"))
    inputs = {k[len("input."):]: v for k, v in arrays.items() if k.startswith("input.")}
    return inputs, _rebuild({k: v for k, v in arrays.items() if not k.startswith(("input.", "retriever."))})


def retrieved_documents(directory):
    """The documents a RAG fixture's retriever returned (`context_input_ids`, `context_attention_mask`,
    `retrieved_doc_embeds`, `doc_ids`), or `None` for other fixtures."""
    arrays = np.load(Path(directory) / "reference.npz")
    documents = {k[len("retriever."):]: arrays[k] for k in arrays.files if k.startswith("retriever.")}
    return documents or None


class FixedRetriever:
    """A retriever that returns the fixture's documents for any question, as the builder's did for the TF
    model (`scripts/make_tf_h5_fixtures.py`: a real index needs `datasets` and faiss). The model still
    encodes the questions and scores the documents with the question embeddings."""

    def __init__(self, documents):
        self.documents = documents

    def __call__(self, question_input_ids, question_hidden_states, prefix=None, n_docs=None):
        assert len(question_hidden_states) * n_docs == len(self.documents["context_input_ids"])
        return dict(self.documents)


def outputs_of(model, inputs, **options):
    return {k: _to_numpy(v) for k, v in model(inputs, training=False, output_hidden_states=True,
                                              output_attentions=True, **options).items()}


def test_fixtures_are_legacy_tf_checkpoints():
    for name in CLASSES:
        directory = FIXTURES / name
        assert not any(directory.glob("*.safetensors")) and not any(directory.glob("*.bin")), name
        assert files.find_weights_file(directory).name.startswith("tf_model.h5"), name
    shards = sorted(p.name for p in (FIXTURES / "BartForConditionalGeneration").glob("tf_model-*.h5"))
    assert shards == [f"tf_model-0000{i}-of-00003.h5" for i in (1, 2, 3)]


@pytest.mark.parametrize("class_name", [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW_CLASSES else name for name in CLASSES])
def test_tf_h5_parity(class_name):
    inputs, expected = reference(FIXTURES / class_name)
    model = getattr(tfmodels, class_name).from_pretrained(FIXTURES / class_name)
    diffs = compare_outputs(outputs_of(model, inputs), expected)
    print(f"{class_name}: max |diff| {max(diffs.values()):.3g} over {sorted(diffs)}")


def test_tf_safetensors_parity():
    """A TF model's `save_pretrained(safe_serialization=True)`: TF names and layouts in model.safetensors."""
    source = FIXTURES / "safetensors" / "GPT2LMHeadModel"
    with files.CheckpointReader(source / "model.safetensors") as reader:
        assert reader.translates_tf_names and len(reader.keys()) == 28
        assert reader.source_name("transformer.h.1.mlp.c_fc.bias") == (
            "transformer.h.1.mlp.c_fc.bias (TF variable transformer/h_._1/mlp/c_fc/bias:0)")
        assert reader.shape("transformer.h.1.mlp.c_fc.bias") == (1, 29)  # TF's Conv1D bias; conformed on loading
    inputs, expected = reference(FIXTURES / "GPT2LMHeadModel")
    compare_outputs(outputs_of(tfmodels.GPT2LMHeadModel.from_pretrained(source), inputs), expected)


def _at_valid_positions(outputs, mask):
    """Outputs with the values at padded query positions set to 0 (`(batch, seq, ...)` or attentions)."""
    def masked(value):
        if isinstance(value, tuple):
            return tuple(masked(v) for v in value)
        if value.ndim == 4:  # attentions (batch, heads, query, key)
            return value * mask[:, None, :, None]
        return value * mask[..., None]
    return {k: masked(v) for k, v in outputs.items()}


@pytest.mark.parametrize("class_name", [
    name if name in DEFAULT_VARIABLE_CLASSES else pytest.param(name, marks=pytest.mark.slow)
    for name in VARIABLE_CLASSES])
def test_tf_h5_parity_from_variable_fixtures(class_name, tmp_path):
    source = FIXTURES / "variables" / class_name
    _variable_fixture(class_name, tmp_path)
    inputs, expected = reference(source)
    renamed = RENAMED_OUTPUTS.get(class_name, {})
    expected = {renamed.get(k, k): v for k, v in expected.items()}
    model = getattr(tfmodels, class_name).from_pretrained(tmp_path)
    documents = retrieved_documents(source)
    if documents is not None:  # RAG: the question encoder, the document scores and the generator
        model.set_retriever(FixedRetriever(documents))
    ours = outputs_of(model, inputs, **({"output_retrieved": True} if documents is not None else {}))
    for output, fields in SKIP_NESTED_OUTPUTS.get(class_name, {}).items():
        assert set(fields) <= set(ours[output]) & set(expected[output]), (output, fields)
        ours[output], expected[output] = ({k: v for k, v in d[output].items() if k not in fields}
                                          for d in (ours, expected))
    if class_name in VALID_POSITIONS_ONLY:
        mask = inputs["attention_mask"].astype("float32")
        ours, expected = _at_valid_positions(ours, mask), _at_valid_positions(expected, mask)
    diffs = compare_outputs(ours, expected, skip=SKIP_OUTPUTS.get(class_name, ()))
    print(f"{class_name}: max |diff| {max(diffs.values()):.3g} over {sorted(diffs)}")


@pytest.mark.parametrize("tf_name, ndim, key, axes", [
    # Values from transformers 4.46 `convert_tf_weight_name_to_pt_weight_name` / `apply_transpose`.
    (BERT_QUERY_1, 2, "bert.encoder.layer.1.attention.self.query.weight", (1, 0)),
    ("tf_bert_model/bert/embeddings/word_embeddings/weight:0", 2, "bert.embeddings.word_embeddings.weight", None),
    ("tf_bert_model/bert/embeddings/position_embeddings/embeddings:0", 2,
     "bert.embeddings.position_embeddings.weight", None),
    ("tf_bert_model/bert/embeddings/LayerNorm/gamma:0", 1, "bert.embeddings.LayerNorm.weight", None),
    ("tf_bert_model/bert/embeddings/LayerNorm/beta:0", 1, "bert.embeddings.LayerNorm.bias", None),
    ("tf_bert_for_masked_lm/mlm___cls/predictions/bias:0", 1, "cls.predictions.bias", None),
    ("tfgpt2lm_head_model/transformer/h_._0/attn/c_attn/weight:0", 2, "transformer.h.0.attn.c_attn.weight", None),
    ("final_logits_bias:0", 2, "final_logits_bias", None),
    ("model.shared/model.shared/embeddings:0", 2, "model.shared.weight", None),
    ("tf_conv_bert_model/convbert/encoder/layer_._0/attention/self/key_conv_attn_layer/depthwise_kernel:0", 3,
     "convbert.encoder.layer.0.attention.self.key_conv_attn_layer.depthwise.weight", (2, 1, 0)),
    ("tf_model/conv/kernel:0", 3, "conv.weight", (2, 1, 0)),
    ("tf_model/patch/kernel:0", 4, "patch.weight", (3, 2, 0, 1)),
    ("tf_transfo_xl_model/transformer/word_emb/emb_projs_._0:0", 2, "transformer.word_emb.emb_projs.0", (1, 0)),
])
def test_tf_names_translate_as_transformers_did(tf_name, ndim, key, axes):
    assert pytorch_key(tf_name, ndim) == (key, axes)


def _variable_fixture(class_name, directory):
    """Writes the `tf_model.h5` and `config.json` of variable fixture `class_name` into `directory`."""
    source = FIXTURES / "variables" / class_name
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "config.json", directory / "config.json")
    constants = dict(np.load(source / "constants.npz")) if (source / "constants.npz").exists() else None
    layers = json.loads((source / "h5_layers.json").read_text()) if (source / "h5_layers.json").exists() else None
    write_keras2_h5(directory / "tf_model.h5", json.loads((source / "variables.json").read_text()), constants,
                    layers)
    return directory


@pytest.mark.parametrize("class_name", ["BertForSequenceClassification", "BlenderbotForConditionalGeneration",
                                        "ViTForImageClassification",
                                        pytest.param("Speech2TextForConditionalGeneration", marks=pytest.mark.slow),
                                        pytest.param("EncoderDecoderModel", marks=pytest.mark.slow)])
def test_tf_checkpoint_converts_with_the_cli_and_loads_in_pytorch(class_name, tmp_path):
    """The migration path: `tfmodels convert --format safetensors` on a tf_model.h5 directory gives a
    checkpoint that `transformers` 5 (PyTorch) loads, with the TF model's outputs (all of them, hidden
    states and attentions included): a real h5 fixture, a seq2seq and a vision model; with `-m slow` a
    speech model whose TF LM head is tied by value, and a TF composite (BERT -> GPT-2)."""
    from tests.helpers import torch_outputs

    fixture = FIXTURES / class_name if class_name in CLASSES else FIXTURES / "variables" / class_name
    source = fixture if class_name in CLASSES else _variable_fixture(class_name, tmp_path / "tf")
    inputs, expected = reference(fixture)
    assert main(["convert", str(source), str(tmp_path / "pt"), "--format", "safetensors"]) == 0
    assert (tmp_path / "pt" / "model.safetensors").exists()
    reference_outputs = torch_outputs(class_name, tmp_path / "pt", inputs, output_hidden_states=True,
                                      output_attentions=True)
    diffs = compare_outputs(reference_outputs, expected)
    print(f"{class_name} (PyTorch, converted): max |diff| {max(diffs.values()):.3g} over {sorted(diffs)}")


def _text(name):
    return name.decode() if isinstance(name, bytes) else name


def _copy(source, directory):
    shutil.copytree(source, directory)
    return directory


def test_corrupt_h5_names_the_file(tmp_path):
    directory = _copy(BERT, tmp_path / "bert")
    data = (directory / "tf_model.h5").read_bytes()
    (directory / "tf_model.h5").write_bytes(b"not an HDF5 file" + data[16:1000])
    with pytest.raises(CheckpointError, match=r"tf_model\.h5 is not a readable HDF5 file"):
        tfmodels.BertModel.from_pretrained(directory)


def test_h5_without_a_variable_names_it(tmp_path):
    directory = _copy(BERT, tmp_path / "bert")
    with h5py.File(directory / "tf_model.h5", "r+") as f:
        group = f["bert"]
        names = [n for n in group.attrs["weight_names"] if _text(n) != BERT_QUERY_1]
        assert len(names) == len(group.attrs["weight_names"]) - 1
        group.attrs["weight_names"] = names
        del group[BERT_QUERY_1]
    with pytest.raises(WeightMismatchError, match=r"missing from the checkpoint: "
                                                  r"encoder\.layer\.1\.attention\.self\.query\.weight") as info:
        tfmodels.BertModel.from_pretrained(directory)
    assert info.value.missing == ["encoder.layer.1.attention.self.query.weight"]


def test_h5_listing_a_variable_it_lacks_names_it(tmp_path):
    directory = _copy(BERT, tmp_path / "bert")
    with h5py.File(directory / "tf_model.h5", "r+") as f:
        del f["bert"][BERT_QUERY_1]
    with pytest.raises(CheckpointError, match=f"no dataset .* for the TF variable '{BERT_QUERY_1}'"):
        files.CheckpointReader(directory / "tf_model.h5")


def test_unexpected_and_mismatched_tf_variables_are_named(tmp_path):
    directory = _copy(FIXTURES / "BertForSequenceClassification", tmp_path / "bert")
    with h5py.File(directory / "tf_model.h5", "r+") as f:
        group = f["bert"]
        extra = "tf_bert_for_sequence_classification/bert/encoder/layer_._0/extra/kernel:0"
        group.create_dataset(extra, data=np.zeros((3, 4), "float32"))
        group.attrs["weight_names"] = [*map(_text, group.attrs["weight_names"]), extra]
    with pytest.raises(WeightMismatchError) as info:
        tfmodels.BertForSequenceClassification.from_pretrained(directory, num_labels=5)
    message = str(info.value)
    assert f"bert.encoder.layer.0.extra.weight (TF variable {extra})" in message
    assert ("classifier.weight (TF variable tf_bert_for_sequence_classification/classifier/kernel:0): "
            "checkpoint (3, 24) vs model (5, 24)") in message
    assert info.value.unexpected == ["bert.encoder.layer.0.extra.weight"]


def test_tf_renames_serve_translated_keys_under_new_names_and_refuse_collisions():
    """`WeightTable.tf_renames` (`CheckpointReader.rename_tf_keys`): keys of TF tensors are renamed with the
    TF name kept for messages; two tensors renamed to one key are an error naming both."""
    with files.CheckpointReader(BERT / "tf_model.h5") as reader:
        before = reader.get("bert.encoder.layer.1.attention.self.query.weight")
        reader.rename_tf_keys(((r"^bert\.encoder\.", "stack."), (r"\.self\.", ".attn.")))
        assert "bert.encoder.layer.1.attention.self.query.weight" not in reader.keys()
        assert "bert.embeddings.word_embeddings.weight" in reader.keys()
        np.testing.assert_array_equal(reader.get("stack.layer.1.attention.attn.query.weight"), before)
        assert reader.source_name("stack.layer.1.attention.attn.query.weight") == (
            f"stack.layer.1.attention.attn.query.weight (TF variable {BERT_QUERY_1})")
        with pytest.raises(CheckpointError, match=r"'stack\.layer\.0\.attention\.attn\.(key|query)\.weight' and "
                                                  r"'stack\.layer\.0\.attention\.attn\.(key|query)\.weight' both "
                                                  r"become 'stack\.layer\.0\.attention\.attn\.qk\.weight'"):
            reader.rename_tf_keys(((r"^(stack\.layer\.0\.attention\.attn)\.(query|key)\.", r"\1.qk."),))


def test_missing_shard_names_it(tmp_path):
    directory = _copy(FIXTURES / "BartForConditionalGeneration", tmp_path / "bart")
    (directory / "tf_model-00002-of-00003.h5").unlink()
    with pytest.raises(FileNotFoundError, match=r"tf_model-00002-of-00003\.h5 is missing"):
        files.CheckpointReader(files.find_weights_file(directory))


def test_from_tf_prefers_the_tf_weights(tmp_path):
    """With PyTorch weights next to tf_model.h5 those are picked by default; `from_tf=True` (here through
    `tfmodels convert --from-tf`) reads the h5."""
    directory = _copy(BERT, tmp_path / "bert")
    (directory / "model.safetensors").write_bytes(b"")  # would fail to load if it were read
    assert files.find_weights_file(directory).name == "model.safetensors"
    inputs, expected = reference(BERT)
    assert main(["convert", str(directory), str(tmp_path / "out"), "--from-tf"]) == 0
    compare_outputs(outputs_of(tfmodels.BertModel.from_pretrained(tmp_path / "out"), inputs), expected)


def _hub_cache(cache, repo_id, source):
    """A huggingface_hub cache holding `source`'s files as the snapshot of `repo_id` (no network)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    snapshot = repo / "snapshots" / commit
    shutil.copytree(source, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_hub_id_with_tf_weights_from_offline_cache(tmp_path, monkeypatch):
    _hub_cache(tmp_path / "hub", "tfmodels-test/tiny-bert", BERT)
    _hub_cache(tmp_path / "hub", "tfmodels-test/tiny-bart", FIXTURES / "BartForConditionalGeneration")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = tfmodels.AutoModel.from_pretrained("tfmodels-test/tiny-bert", cache_dir=str(tmp_path / "hub"))
    inputs, expected = reference(BERT)
    compare_outputs(outputs_of(model, inputs), expected)
    bart = files.resolve_checkpoint_dir("tfmodels-test/tiny-bart", cache_dir=str(tmp_path / "hub"))
    assert files.find_weights_file(bart).name == "tf_model.h5.index.json"


def _fake_hub(monkeypatch, remote, root):
    """Replaces `snapshot_download` by a copy from `remote` of the files `allow_patterns` selects; returns
    the list of pattern lists it was called with."""
    import fnmatch

    import huggingface_hub

    calls = []

    def snapshot_download(repo_id, allow_patterns, **kwargs):
        calls.append(list(allow_patterns))
        snapshot = root / repo_id.replace("/", "--")
        snapshot.mkdir(parents=True, exist_ok=True)
        for path in remote.iterdir():
            if any(fnmatch.fnmatch(path.name, p) for p in allow_patterns):
                shutil.copy(path, snapshot / path.name)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return calls


def test_hub_download_fetches_tf_weights_when_there_are_no_pytorch_weights(tmp_path, monkeypatch):
    calls = _fake_hub(monkeypatch, FIXTURES / "BartForConditionalGeneration", tmp_path / "snapshots")
    directory = files.resolve_checkpoint_dir("tfmodels-test/tiny-bart")
    assert len(calls) == 3 and "tf_model*.h5" in calls[2] and "tf_model.h5.index.json" in calls[2]
    assert sorted(os.listdir(directory)) == sorted(
        p.name for p in (FIXTURES / "BartForConditionalGeneration").iterdir() if p.name != "reference.npz")
    with files.CheckpointReader(files.find_weights_file(directory)) as reader:
        assert "model.encoder.layers.1.fc2.weight" in reader.keys() and len(reader.keys()) == 118


def test_hub_download_prefers_tf_weights_with_from_tf(tmp_path, monkeypatch):
    remote = _copy(BERT, tmp_path / "remote")
    (remote / "model.safetensors").write_bytes(b"")  # present on the Hub, must not be fetched
    calls = _fake_hub(monkeypatch, remote, tmp_path / "snapshots")
    directory = files.resolve_checkpoint_dir("tfmodels-test/tiny-bert", prefer_tf=True)
    assert len(calls) == 1 and "tf_model*.h5" in calls[0]
    assert "model.safetensors" not in os.listdir(directory)
    calls.clear()
    assert (files.resolve_checkpoint_dir("tfmodels-test/tiny-bert-2") / "model.safetensors").exists()
    assert len(calls) == 1 and "*.safetensors" in calls[0]

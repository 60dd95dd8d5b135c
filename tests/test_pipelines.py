"""`tfmodels.pipeline` against `transformers.pipeline` on the same tiny checkpoints with real tokenizers.

Oracles: `transformers.pipeline(task, model=directory)` (PyTorch, v5.24) for
the tasks v5 has; for `question-answering`, `text2text-generation`,
`summarization` and `translation`, which v5 removed, the results of
`transformers` 4.46.3 stored by `scripts/make_pipeline_fixtures.py` beside
their checkpoints in `tests/fixtures/pipelines/`. Labels, words, offsets,
token ids and generated text must be identical, scores within 1e-5.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import tfmodels
from tests.helpers import TOLERANCE
from tests.pipeline_checkpoints import build

FIXTURES = Path(__file__).parent / "fixtures" / "pipelines"
SENTENCES = ["John lives in Paris, the cats ran fast.", "mary works at google in new york city",
             "the dog ran far away", "Where does the dogs sleeping?"]
GREEDY = {"do_sample": False, "max_new_tokens": 6}
# generate() without XLA in the default suite: the same loop, minus a compile per shape (XLA: test_text_generation_xla).
NO_XLA = {"jit_compile": False}


def assert_same(ours, reference, where="result"):
    """Same structure and values; floats within `TOLERANCE` (absolute)."""
    if isinstance(reference, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(reference), f"{where}: {ours} != {reference}"
        for key in reference:
            assert_same(ours[key], reference[key], f"{where}[{key!r}]")
    elif isinstance(reference, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(reference), f"{where}: {ours} != {reference}"
        for i, (a, b) in enumerate(zip(ours, reference)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(reference, (float, np.floating)):
        assert isinstance(ours, (float, np.floating)), f"{where}: {ours!r} is not a float"
        assert abs(float(ours) - float(reference)) <= TOLERANCE, f"{where}: {ours} vs {reference}"
    else:
        assert type(ours) is type(reference) and ours == reference, f"{where}: {ours!r} != {reference!r}"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    made = {}

    def get(kind):
        if kind not in made:
            made[kind] = build(kind, root / kind)
        return made[kind]
    return get


@pytest.fixture(scope="module")
def pipelines(checkpoints):
    """`(ours, reference)` pipelines per `(task, checkpoint kind)`, made once per module."""
    import transformers

    made = {}

    def get(task, kind):
        if (task, kind) not in made:
            path = checkpoints(kind)
            made[task, kind] = (tfmodels.pipeline(task, model=path), transformers.pipeline(task, model=path))
        return made[task, kind]
    return get


def check(pipelines, task, kind, inputs, ours_only=None, **kwargs):
    """Runs both pipelines with `kwargs` (ours also with `ours_only`) and compares; returns the reference result."""
    ours, reference = pipelines(task, kind)
    expected = reference(inputs, **kwargs)
    assert_same(ours(inputs, **kwargs, **(ours_only or {})), expected)
    return expected


def test_text_classification(pipelines):
    task, kind = "sentiment-analysis", "bert-sequence-classification"
    check(pipelines, task, kind, SENTENCES[0])
    check(pipelines, task, kind, SENTENCES, batch_size=3)
    check(pipelines, task, kind, SENTENCES[1], top_k=2)
    check(pipelines, task, kind, [SENTENCES[2], {"text": SENTENCES[0], "text_pair": SENTENCES[1]}], top_k=None,
          function_to_apply="sigmoid", batch_size=2)
    check(pipelines, task, kind, {"text": "the cat", "text_pair": "sat on the mat"}, function_to_apply="none")
    check(pipelines, "text-classification", "bert-single-label", SENTENCES, top_k=None)  # one label: sigmoid


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_token_classification(pipelines, strategy):
    expected = check(pipelines, "ner", "bert-token-classification", SENTENCES, aggregation_strategy=strategy,
                     batch_size=2)
    assert any(expected)  # entities were found, so labels, words and offsets were compared
    check(pipelines, "ner", "bert-token-classification", SENTENCES[0], aggregation_strategy=strategy,
          ignore_labels=[])


@pytest.mark.slow
def test_token_classification_stride(pipelines):
    long_text = " ".join(SENTENCES * 6)
    for strategy in ("simple", "first", "max"):
        check(pipelines, "ner", "bert-token-classification", long_text, aggregation_strategy=strategy, stride=8)


def test_fill_mask(pipelines):
    task, kind = "fill-mask", "bert-masked-lm"
    check(pipelines, task, kind, "the cat [MASK] on the mat .")
    check(pipelines, task, kind, ["the [MASK] sat", "john lives in [MASK] and works at [MASK] ."], top_k=3,
          batch_size=2)
    check(pipelines, task, kind, "the [MASK] ran far away", targets=["dog", "cat", "mat"])
    check(pipelines, task, kind, ["mary [MASK] fast"], targets="was", top_k=2)
    ours, reference = pipelines(task, kind)
    texts = ["the [MASK] sat", "a [MASK] ran", "the [MASK] house"]
    streamed = ours((t for t in texts), batch_size=2)  # a generator in: an iterator out, as transformers
    assert not isinstance(streamed, list)
    assert_same(list(streamed), reference(texts))


def test_feature_extraction(pipelines, checkpoints):
    expected = check(pipelines, "feature-extraction", "bert-model", SENTENCES[0])
    import transformers

    path = checkpoints("bert-model")  # objects instead of paths, as `transformers.pipeline` takes them
    pipe = tfmodels.pipeline("feature-extraction", model=tfmodels.AutoModel.from_pretrained(path),
                             tokenizer=transformers.AutoTokenizer.from_pretrained(path))
    assert_same(pipe(SENTENCES[0]), expected)
    check(pipelines, "feature-extraction", "bert-model", SENTENCES[1:3], batch_size=2)
    ours, _ = pipelines("feature-extraction", "bert-model")
    assert ours(SENTENCES[2], return_tensors=True).shape[:2] == (1, 7)


def test_text_generation_greedy(pipelines):
    expected = check(pipelines, "text-generation", "gpt2", SENTENCES[:2], batch_size=2, ours_only=NO_XLA, **GREEDY)
    assert len({r[0]["generated_text"][len(p):] for r, p in zip(expected, SENTENCES)}) == 2  # not one repeated text


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    {"return_full_text": False}, {"return_tensors": True}, {"num_beams": 2, "num_return_sequences": 2},
    {"repetition_penalty": 1.3, "batch_size": 3},
])
def test_text_generation_options(pipelines, options):
    check(pipelines, "text-generation", "gpt2", SENTENCES[:3] if "batch_size" in options else SENTENCES[1],
          ours_only=NO_XLA, **GREEDY, **options)


def test_text_generation_stop_sequence(pipelines):
    """`stop_sequence` (generate()'s `stop_strings` with the pipeline's tokenizer), picked from the plain text."""
    prompt, options = SENTENCES[1], {**GREEDY, "max_new_tokens": 10}
    plain = pipelines("text-generation", "gpt2")[1](prompt, **options)[0]["generated_text"][len(prompt):]
    stop = next(plain[i:i + 2] for i in range(1, len(plain) - 3) if "\ufffd" not in plain[i:i + 2])
    expected = check(pipelines, "text-generation", "gpt2", prompt, stop_sequence=stop, ours_only=NO_XLA, **options)
    assert len(expected[0]["generated_text"]) < len(prompt) + len(plain)  # the stop sequence cut the text


@pytest.mark.slow
def test_text_generation_xla(pipelines):
    check(pipelines, "text-generation", "gpt2", SENTENCES[2], **GREEDY)  # the pipeline default: jit_compile=True


def _fixture_cases():
    cases = []
    for kind in ("bert-question-answering", "t5", "bart"):
        records = json.loads((FIXTURES / kind / "expected.json").read_text(encoding="utf-8"))["cases"]
        for i, record in enumerate(records):
            # Default suite: every question-answering case and T5 translation (task prefix, language pair).
            default = kind == "bert-question-answering" or (kind == "t5" and record["task"].startswith("translation"))
            marks = () if default else (pytest.mark.slow,)
            cases.append(pytest.param(kind, record, id=f"{kind}-{i}-{record['task']}", marks=marks))
    return cases


@pytest.fixture(scope="module")
def fixture_pipelines():
    made = {}

    def get(task, kind):
        if (task, kind) not in made:
            made[task, kind] = tfmodels.pipeline(task, model=str(FIXTURES / kind))
        return made[task, kind]
    return get


@pytest.mark.parametrize("kind,record", _fixture_cases())
def test_matches_transformers_4_46(fixture_pipelines, kind, record):
    pipe = fixture_pipelines(record["task"], kind)
    generates = record["task"] != "question-answering"
    result = pipe(*(record["args"] or ()), **record["kwargs"], **(NO_XLA if generates else {}))
    assert_same(json.loads(json.dumps(result, default=lambda v: v.tolist())), record["result"])


def test_unknown_task_lists_tasks():
    with pytest.raises(KeyError, match="Available tasks: .*question-answering.*text-generation"):
        tfmodels.pipeline("image-to-text", model="unused")


def test_model_of_another_task_is_refused(checkpoints):
    with pytest.raises(ValueError, match="no summarization model.*AutoModelForSeq2SeqLM"):
        tfmodels.pipeline("summarization", model=checkpoints("bert-model"))
    model = tfmodels.BertModel.from_pretrained(checkpoints("bert-model"))
    with pytest.raises(ValueError, match="BertModel is not a fill-mask model"):
        tfmodels.pipeline("fill-mask", model=model, tokenizer=checkpoints("bert-model"))


def test_bad_inputs_are_refused(pipelines):
    classifier, _ = pipelines("text-classification", "bert-sequence-classification")
    with pytest.raises(ValueError, match="function_to_apply must be one of"):
        classifier("the cat", function_to_apply="relu")
    with pytest.raises(ValueError, match="text_pair"):
        classifier([["the cat", "sat"], ["a", "b"]])
    fill, _ = pipelines("fill-mask", "bert-masked-lm")
    with pytest.raises(ValueError, match="No mask_token"):
        fill("no mask here")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        fill("the [MASK]", batch_size=0)


def test_default_model_needs_the_hub(monkeypatch):
    """Without `model=`, the default is transformers 4.46's TF default; offline, loading it fails clearly."""
    from tfmodels.pipelines import DEFAULT_MODELS

    assert DEFAULT_MODELS["text-classification"][0] == "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(Exception, match="distilbert-base-uncased-finetuned-sst-2-english"):
        tfmodels.pipeline("sentiment-analysis")
    with pytest.raises(ValueError, match="translation_en_to_fr"):
        tfmodels.pipeline("translation")


def test_progress_bar_for_long_lists(pipelines, capsys):
    classifier, reference = pipelines("text-classification", "bert-sequence-classification")
    texts = SENTENCES * 5
    assert_same(classifier(texts, batch_size=8), reference(texts, batch_size=8))
    assert "text-classification" in capsys.readouterr().err  # the tqdm bar, labelled with the task


def test_construction_parameters_and_device(checkpoints):
    import transformers

    path = checkpoints("bert-sequence-classification")
    ours = tfmodels.pipeline("sentiment-analysis", model=path, top_k=2, device=-1)
    reference = transformers.pipeline("sentiment-analysis", model=path, top_k=2, device=-1)
    assert_same(ours(SENTENCES[0]), reference(SENTENCES[0]))  # construction-time top_k: transformers' nesting
    assert ours.device == "/CPU:0"
    with pytest.raises(ValueError, match="framework must be None or 'tf'"):
        tfmodels.pipeline("sentiment-analysis", model=path, framework="pt")
    with pytest.raises(ValueError, match="device must be"):
        tfmodels.pipeline("sentiment-analysis", model=path, device=2.5)

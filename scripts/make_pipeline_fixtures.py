"""Builds the reference fixtures of the pipeline tasks `transformers` 5 removed, under tests/fixtures/pipelines/.

`question-answering`, `text2text-generation`, `summarization` and
`translation` left `transformers` in v5, so their reference results come from
4.46.3, its last release with TensorFlow models, run in a throwaway virtual
environment that reuses the system's CPU `torch`:

    python scripts/make_pipeline_fixtures.py        # creates /tmp/transformers-4.46.3-venv if needed

For each checkpoint of `CASES` it writes the tiny random model with its
tokenizer (`tests/pipeline_checkpoints.py`) into `<kind>/`, and
`<kind>/expected.json`: for every case, the task, the call (positional input
and keywords) and what `transformers.pipeline(task, model=<kind>)(...)`
returned.
"""

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_venv import run_builder  # noqa: E402

TRANSFORMERS_VERSION = "4.46.3"
VENV = "/tmp/transformers-4.46.3-venv"
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "pipelines"

LONG_CONTEXT = ("john lives in paris and works at google . " * 4 + "mary lives in london , the small red house "
                "is in new york city . " * 3 + "the cat sat on the mat and the dog ran far away . " * 3)
GREEDY = {"do_sample": False, "max_new_tokens": 6}

# kind -> list of (task, args, kwargs); inputs go positionally when `args` is not None.
CASES = {
    "bert-question-answering": [
        ("question-answering", None, {"question": "where does john live ?", "context": "john lives in paris ."}),
        ("question-answering", None, {"question": "who works at google ?",
                                      "context": "john lives in paris and works at google .", "top_k": 3}),
        ("question-answering", None, {"question": ["where is the house ?", "who ran ?"],
                                      "context": "the small red house is in london , the dog ran far away .",
                                      "max_answer_len": 3}),
        ("question-answering", [[{"question": "what is big ?", "context": "the big house is in new york city ."},
                                 {"question": "who sat ?", "context": "the cat sat on the mat ."}]],
         {"handle_impossible_answer": True, "batch_size": 2}),
        ("question-answering", None, {"question": "where does mary live ?", "context": LONG_CONTEXT,
                                      "max_seq_len": 32, "doc_stride": 8, "top_k": 2}),
        ("question-answering", None, {"question": "where does mary live ?", "context": LONG_CONTEXT,
                                      "max_seq_len": 32, "doc_stride": 8, "batch_size": 3,
                                      "align_to_words": False}),
    ],
    "t5": [
        ("text2text-generation", ["The cat sat on the mat."], GREEDY),
        ("text2text-generation", [["John lives in Paris.", "Who lives in the big house?"]],
         {**GREEDY, "batch_size": 2}),
        ("text2text-generation", ["Mary was very fast."], {**GREEDY, "num_beams": 2, "num_return_sequences": 2}),
        ("text2text-generation", ["The dog ran far away."], {**GREEDY, "return_tensors": True}),
        ("summarization", ["The cat sat on the mat and the dog ran far away."], GREEDY),
        ("translation_en_to_de", ["the house is small."], GREEDY),
        ("text2text-generation", ["Where does the dog sleep?"], {"do_sample": False}),  # the default length
    ],
    "bart": [
        ("summarization", ["John lives in Paris and works at Google in New York City."], GREEDY),
        ("summarization", [["The cat sat on the mat.", "Mary was very fast, the small red house is in London."]],
         {**GREEDY, "batch_size": 2}),
        ("summarization", ["Who lives in the big house?"], {"do_sample": False, "max_new_tokens": 5, "num_beams": 3}),
        ("text2text-generation", ["Where does the dog sleep?"], GREEDY),
    ],
}


def _plain(value):
    """JSON-ready results: numpy scalars and tensors as Python numbers and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def build_fixtures():
    import transformers

    from tests.pipeline_checkpoints import build

    for kind, cases in CASES.items():
        directory = OUT / kind
        shutil.rmtree(directory, ignore_errors=True)
        build(kind, directory)
        records = []
        pipes = {}
        for task, args, kwargs in cases:
            if task not in pipes:
                pipes[task] = transformers.pipeline(task, model=str(directory), framework="pt")
            result = pipes[task](*(args or ()), **kwargs)
            records.append({"task": task, "args": args, "kwargs": kwargs, "result": _plain(result)})
        with open(directory / "expected.json", "w", encoding="utf-8") as f:
            json.dump({"transformers_version": transformers.__version__, "cases": records}, f, indent=1)
        print(f"wrote {directory}")


if __name__ == "__main__":
    run_builder(__file__, TRANSFORMERS_VERSION, build_fixtures, __doc__.splitlines()[0], VENV)

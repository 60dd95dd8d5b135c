"""MkDocs hook: writes the model-family tables of `reference/families.md` at build time.

The tables come from the families' own declarations, so they cannot go stale:
`FAMILIES` and `TASK_SUFFIXES` in `tfmodels/models/catalogue.py`, and each
family's `__all__` and `FAMILY = Family(...)` in `tfmodels/models/<name>/__init__.py`.
The files are read with `ast` (TensorFlow is not imported); the Auto
registrations reuse `Family.auto_entries`, so they are the ones `tfmodels.auto`
makes. A family whose declaration is not literal fails the build, naming the file.
"""

import ast
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tfmodels" / "models"
PAGE = "reference/families.md"
MARKER = "<!-- families-tables -->"
AUTO_CLASSES = {
    "base": "AutoModel",
    "sequence-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "multiple-choice": "AutoModelForMultipleChoice",
    "masked-lm": "AutoModelForMaskedLM",
    "causal-lm": "AutoModelForCausalLM",
    "seq2seq-lm": "AutoModelForSeq2SeqLM",
    "image-classification": "AutoModelForImageClassification",
    "table-question-answering": "AutoModelForTableQuestionAnswering",
    "ctc": "AutoModelForCTC",
    "audio-classification": "AutoModelForAudioClassification",
    "speech-seq2seq": "AutoModelForSpeechSeq2Seq",
    "zero-shot-image-classification": "AutoModelForZeroShotImageClassification",
}


def _catalogue():
    """`tfmodels/models/catalogue.py` as a module, loaded by path (it imports only the standard library)."""
    spec = importlib.util.spec_from_file_location("_tfmodels_catalogue", MODELS / "catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _declaration(name):
    """`(package, __all__, Family keyword arguments)` read from a family's `__init__.py`."""
    path = MODELS / name / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    exports, family = None, None
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            continue
        target = node.targets[0].id
        if target == "__all__":
            exports = ast.literal_eval(node.value)
        elif target == "FAMILY" and isinstance(node.value, ast.Call):
            call = node.value
            args = [ast.literal_eval(a) for a in call.args[1:]]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            family = (args, kwargs)
    if exports is None or family is None:
        raise ValueError(f"{path}: expected a literal `__all__` and `FAMILY = Family(__name__, ...)`.")
    return f"tfmodels.models.{name}", list(exports), family


def tables():
    """The Markdown of the family table and the Auto registration tables."""
    catalogue = _catalogue()

    class StaticFamily(catalogue.Family):
        exports = None  # set per instance: {class name: class name}, without importing the package

    families, auto = [], {task: {} for task in catalogue.TASK_SUFFIXES}
    for name in catalogue.FAMILIES:
        package, exports, (args, kwargs) = _declaration(name)
        family = StaticFamily(package, *args, **kwargs)
        family.exports = {e: e for e in exports}
        families.append((name, family, exports))
        for task, model_type, cls in family.auto_entries():
            auto[task][model_type] = cls
    total = sum(len(exports) for _, _, exports in families)
    lines = [f"{len(families)} families, {total} classes (each importable as `tfmodels.<ClassName>`).", "",
             "| package | `model_type` | classes |", "| --- | --- | --- |"]
    for name, family, exports in families:
        types = ", ".join(f"`{t}`" for t in family.model_types)
        classes = ", ".join(f"`{e}`" for e in sorted(exports))
        lines.append(f"| `tfmodels.models.{name}` | {types} | {classes} |")
    lines += ["", "## Auto classes", "",
              "The class each Auto class builds for a checkpoint's `model_type`.", ""]
    for task, registry in auto.items():
        lines += [f"### {AUTO_CLASSES.get(task, task)}", "", f"Task `{task}`.", "",
                  "| `model_type` | class |", "| --- | --- |"]
        lines += [f"| `{t}` | `{c}` |" for t, c in sorted(registry.items())]
        lines.append("")
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files, **kwargs):
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} lost its marker {MARKER!r}.")
    return markdown.replace(MARKER, tables())

"""The documentation's generated model-family page (docs/hooks/families.py) against the real registries.

The hook reads the family declarations with `ast`, without importing TensorFlow, so that
`make docs` needs no TensorFlow; this checks that what it reads is what `tfmodels` builds.
"""

import importlib.util
from pathlib import Path

from tfmodels import auto
from tfmodels.models import catalogue

HOOK = Path(__file__).resolve().parents[1] / "docs" / "hooks" / "families.py"


def _hook():
    spec = importlib.util.spec_from_file_location("_docs_families_hook", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_family_page_matches_the_registries():
    hook = _hook()
    page = hook.tables()
    real_exports = {name for family in catalogue.families() for name in family.exports}
    assert f"{len(catalogue.FAMILIES)} families, {len(real_exports)} classes" in page
    for name in real_exports:
        assert f"`{name}`" in page, name
    # The Auto tables: one row per registration, the class tfmodels.auto registered.
    assert set(hook.AUTO_CLASSES) == set(auto.MODEL_REGISTRIES)
    for task, registry in auto.MODEL_REGISTRIES.items():
        section = page.split(f"### {hook.AUTO_CLASSES[task]}\n", 1)[1].split("###", 1)[0]
        rows = {line for line in section.splitlines() if line.startswith("| `") and "`model_type`" not in line}
        assert rows == {f"| `{t}` | `{cls.__name__}` |" for t, cls in registry.items()}, task

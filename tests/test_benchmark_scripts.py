"""The benchmark scripts' imports of each other resolve (static check: no script is run).

`make bench` is not part of the test suite (minutes per script), so a helper renamed in one
benchmark would otherwise only surface when someone next runs the script that imports it.
"""

import ast
import pathlib

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))


def _top_level_names(path):
    """Names a module defines at its top level (functions, classes, assignments, imports)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _sibling_imports(path):
    """(line, module, name) for every `from <sibling benchmark> import name`, at any depth in the script."""
    siblings = {script.stem for script in SCRIPTS}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in siblings:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def test_there_are_benchmarks_importing_each_other():
    assert any(list(_sibling_imports(script)) for script in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_names_imported_from_sibling_benchmarks_exist(script):
    missing = [f"{script.name}:{line} imports {name!r} from {module}.py, which does not define it"
               for line, module, name in _sibling_imports(script)
               if name not in _top_level_names(BENCHMARKS / f"{module}.py")]
    assert not missing, "\n".join(missing)

"""Every analyzer's confidences are named in its module's table (``CONFIDENCE``), next to its
rules: no confidence is a bare number in rule code. Checked on the analyzers' source (real:
the modules' ASTs); a literal passed as ``make_finding``'s confidence or assigned to a
``confidence`` variable fails, 0.0 (nothing yet) excepted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kubetriage.analyzers

ANALYZERS = Path(kubetriage.analyzers.__file__).parent


def _literals(node: ast.AST) -> list[float]:
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and type(n.value) is float and n.value != 0.0
    ]


def _confidence_literals(source: str) -> list[tuple[int, float]]:
    found: list[tuple[int, float]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "make_finding":
            args = [*node.args[2:3], *(k.value for k in node.keywords if k.arg == "confidence")]
            found += [(node.lineno, value) for arg in args for value in _literals(arg)]
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = any(isinstance(t, ast.Name) and t.id == "confidence" for t in targets)
            if named and node.value is not None:
                found += [(node.lineno, v) for v in _literals(node.value)]
    return found


def test_no_analyzer_writes_a_confidence_as_a_bare_number() -> None:
    modules = sorted(ANALYZERS.glob("*.py"))
    assert len(modules) > 10
    offenders = {
        path.name: literals
        for path in modules
        if (literals := _confidence_literals(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_check_sees_a_bare_confidence() -> None:
    source = (
        "def rule(e):\n"
        "    confidence = 0.8\n"
        "    confidence += 0.05\n"
        "    return make_finding('x', C, min(confidence, 0.9), t, [], A, r)\n"
    )
    assert [value for _, value in _confidence_literals(source)] == [0.8, 0.05, 0.9]

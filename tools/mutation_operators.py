"""The mutation operators of ``make mutation``: one small change to one module's syntax tree.

Called by ``tools/mutation.py``, which counts the places a module can be mutated
(``count_mutants``) and then builds each mutant in turn (``mutate``). The
operators are those of issue 13, so the figures compare with its table:

- a comparison flipped: ``==``/``!=``, ``in``/``not in``, ``is``/``is not``
  negated; ``<``, ``<=``, ``>``, ``>=`` negated and moved across the boundary
  (``<`` becomes ``>=`` and ``<=``);
- ``and`` and ``or`` swapped;
- a number constant moved by one, up and down;
- a condition negated (``if``, ``while``, conditional expressions, comprehension
  filters) and a ``not`` removed;
- a ``return``, ``continue``, ``break`` or ``yield`` statement removed.

Docstrings, annotations and ``if TYPE_CHECKING`` blocks are never mutated: they
change nothing at run time.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Callable
from dataclasses import dataclass

# Each ordering comparison has two mutants: its negation and its boundary twin.
_COMPARISONS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.Lt: (ast.GtE, ast.LtE),
    ast.LtE: (ast.Gt, ast.Lt),
    ast.Gt: (ast.LtE, ast.GtE),
    ast.GtE: (ast.Lt, ast.Gt),
}
_MAX_TEXT = 70


@dataclass(frozen=True, slots=True)
class Change:
    """What one mutant changed: where, in which function, and the text before and after."""

    line: int
    scope: str  # enclosing function or class, dotted; "<module>" at the top level
    before: str
    after: str
    context: str  # the source line the change starts on, when it is more than ``before``

    @property
    def label(self) -> str:
        """``scope: before → after``, plus ``in `line``` when the change is part of a line."""
        where = f" in `{self.context}`" if self.context else ""
        return f"{self.scope}: {self.before} → {self.after}{where}"


def count_mutants(source: str) -> int:
    """How many mutants ``source`` has."""
    mutator = _Mutator(source, target=-1)
    mutator.visit(ast.parse(source))
    return mutator.seen


def mutate(source: str, index: int) -> tuple[str, Change]:
    """The source of mutant number ``index`` (0-based) and what it changed."""
    tree = ast.parse(source)
    mutator = _Mutator(source, target=index)
    tree = ast.fix_missing_locations(mutator.visit(tree))
    if mutator.change is None:
        raise IndexError(f"no mutant {index}: the module has {mutator.seen}")
    return ast.unparse(tree), mutator.change


def unmutated(source: str) -> str:
    """The module as every mutant is written (through ``ast.unparse``), with no change."""
    return ast.unparse(ast.parse(source))


class _Mutator(ast.NodeTransformer):
    """Walks the tree in a fixed order, numbering every possible mutant; applies ``target``."""

    def __init__(self, source: str, target: int) -> None:
        self.source = source
        self.lines = _lines_without_comments(source)
        self.target = target
        self.seen = 0
        self.change: Change | None = None
        self.scopes: list[str] = []

    def _offer(self, node: ast.AST, build: Callable[[], ast.AST]) -> ast.AST:
        """One possible mutant of ``node``: the replacement when it is the target."""
        index = self.seen
        self.seen += 1
        if index != self.target:
            return node
        replacement = build()
        line = getattr(node, "lineno", 0)
        before = _text(ast.get_source_segment(self.source, node) or ast.unparse(node))
        context = _text(self.lines[line - 1]) if 0 < line <= len(self.lines) else ""
        self.change = Change(
            line=line,
            scope=".".join(self.scopes) or "<module>",
            before=before,
            after=_text(ast.unparse(replacement)),
            context="" if context == before else context,
        )
        return ast.copy_location(replacement, node)

    # --- scopes, and what is never mutated ---------------------------------------------

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> ast.AST:
        self.scopes.append(node.name)  # decorators are reported under the name they decorate
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        body = node.body
        start = 1 if body and _is_docstring(body[0]) else 0
        node.body = body[:start] + self._statements(body[start:])
        self.scopes.pop()
        if isinstance(node, ast.ClassDef):
            node.bases = [self.visit(b) for b in node.bases]
        else:
            node.args = self.visit(node.args)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._scoped(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._scoped(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._scoped(node)

    def visit_Module(self, node: ast.Module) -> ast.AST:
        start = 1 if node.body and _is_docstring(node.body[0]) else 0
        node.body = node.body[:start] + self._statements(node.body[start:])
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node  # annotations only

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def _statements(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for statement in body:
            if _is_type_checking(statement):
                out.append(statement)
                continue
            result = self.visit(statement)
            out.append(result if isinstance(result, ast.stmt) else statement)
        return out

    def generic_visit(self, node: ast.AST) -> ast.AST:
        # Statement lists go through _statements so that removed statements and
        # TYPE_CHECKING blocks are handled in one place.
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, name, self._statements(value))
            elif isinstance(value, list):
                setattr(node, name, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, name, self.visit(value))
        return node

    # --- the operators --------------------------------------------------------------------

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        result: ast.AST = node
        for position, op in enumerate(node.ops):
            for other in _COMPARISONS.get(type(op), ()):
                result = self._offer(result, _swap_op(node, position, other))
        return result

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        swapped = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return self._offer(node, lambda: ast.BoolOp(op=swapped, values=node.values))

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return node
        result = self._offer(node, lambda: ast.Constant(value + 1))
        return self._offer(result, lambda: ast.Constant(value - 1))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return self._offer(node, lambda: node.operand)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        return self._negate_test(node)

    def visit_While(self, node: ast.While) -> ast.AST:
        return self._negate_test(node)

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        return self._negate_test(node)

    def _negate_test(self, node: ast.If | ast.While | ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        original = node.test
        if _is_not(original):
            return node  # removing the ``not`` is already a mutant
        negated = self._offer(original, _negation(original))
        if negated is not original:
            assert isinstance(negated, ast.expr)
            node.test = negated
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        filters: list[ast.expr] = []
        for condition in node.ifs:
            if _is_not(condition):
                filters.append(condition)
                continue
            negated = self._offer(condition, _negation(condition))
            assert isinstance(negated, ast.expr)
            filters.append(negated)
        node.ifs = filters
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        return self._offer(node, ast.Pass)

    def visit_Continue(self, node: ast.Continue) -> ast.AST:
        return self._offer(node, ast.Pass)

    def visit_Break(self, node: ast.Break) -> ast.AST:
        return self._offer(node, ast.Pass)

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Yield | ast.YieldFrom):
            return self._offer(node, ast.Pass)
        return node


def _swap_op(node: ast.Compare, position: int, other: type[ast.cmpop]) -> Callable[[], ast.AST]:
    def build() -> ast.AST:
        ops = list(node.ops)
        ops[position] = other()
        return ast.Compare(left=node.left, ops=ops, comparators=node.comparators)

    return build


def _negation(condition: ast.expr) -> Callable[[], ast.AST]:
    return lambda: ast.UnaryOp(op=ast.Not(), operand=condition)


def _is_not(test: ast.expr) -> bool:
    return isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _is_type_checking(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.If) and ast.unparse(statement.test) in (
        "TYPE_CHECKING",
        "typing.TYPE_CHECKING",
    )


def _lines_without_comments(source: str) -> list[str]:
    """The source lines with their comments cut off: a comment is not part of a mutant's name."""
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column].rstrip()
    return lines


def _text(code: str) -> str:
    first = " ".join(code.split())
    return first if len(first) <= _MAX_TEXT else first[: _MAX_TEXT - 1] + "…"

"""Recognise scaffold stubs: methods that only raise NotImplementedError do not count as implemented."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable


def _raises_not_implemented(node: ast.stmt) -> bool:
    """`raise NotImplementedError` or `raise NotImplementedError(...)`."""
    if not isinstance(node, ast.Raise) or node.exc is None:
        return False
    target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return isinstance(target, ast.Name) and target.id == "NotImplementedError"


def is_stub(function: Callable) -> bool:
    """True when the function's last statement raises NotImplementedError and its body has no `return`.

    That covers the scaffold's bodies: a docstring and the raise, or a few lines of groundwork (reading a
    field, a TODO) followed by the raise. A function whose source cannot be read (builtins, C code) is not
    a stub: nothing shows that it is unfinished.
    """
    function = inspect.unwrap(getattr(function, "__func__", function))
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return False
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # A lambda or a decorated one-liner whose extracted source does not parse alone: not a stub.
        return False
    definitions = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not definitions:
        return False
    body = definitions[0].body
    if not _raises_not_implemented(body[-1]):
        return False
    # A `return` anywhere in the body (outside nested functions and classes) means some path does real work.
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Return):
            return False
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return True

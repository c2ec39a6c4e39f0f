"""The demo agent's tools: a safe calculator and a clock."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from datetime import UTC, datetime

from duragraph_lab.llm import tool

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
# Bounds that keep "9 ** 9 ** 9" from eating the worker's CPU and memory.
_MAX_EXPONENT = 1000
_MAX_MAGNITUDE = 1e300


def evaluate(expression: str) -> float:
    """The value of an arithmetic expression: numbers, + - * / ** % and parentheses only.
    Anything else raises ``ValueError``; division by zero raises ``ZeroDivisionError``."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    return _eval(tree.body)


def _eval(node: ast.expr) -> float:
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError(f"exponent {right} is too large")
        result = _BINARY[type(node.op)](left, right)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        result = _UNARY[type(node.op)](_eval(node.operand))
    else:
        raise ValueError(f"unsupported element in expression: {ast.unparse(node)!r}")
    if isinstance(result, complex) or abs(result) > _MAX_MAGNITUDE:
        raise ValueError("result out of range")
    return result


def format_number(value: float) -> str:
    """``5`` rather than ``5.0``; floats with their shortest exact form."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression (numbers, + - * / ** % and parentheses), e.g. "2 + 3"."""
    return format_number(evaluate(expression))


@tool
def clock() -> str:
    """The current date and time in UTC (ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


TOOLS = [calculator, clock]

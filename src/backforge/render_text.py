"""Literals for user text inside generated files: Python strings and TOML strings."""

from __future__ import annotations


def python_text(text: str, width: int = 72) -> str:
    """A Python string literal for user text, split into parenthesised pieces when long."""
    if len(text) <= width:
        return repr(text)
    pieces, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) > width and line:
            pieces.append(line + " ")
            line = word
        else:
            line = candidate
    pieces.append(line)
    return "(" + " ".join(repr(piece) for piece in pieces) + ")"


def toml_string(text: str) -> str:
    """A TOML basic string; unlike JSON escaping it keeps non-BMP characters valid."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch >= " " or ch == "\t" else f"\\u{ord(ch):04x}" for ch in escaped)
    return f'"{escaped}"'

"""The file boundary: read a user's file or upload, and parse its TOML or JSON, refusing what would hurt.

Refused with a PlannerError naming the file: a path that is not a path (NUL byte, not
text), a missing file, a folder, a device or pipe, a file over the size limit (before it
is read), binary or non-UTF-8 content, nesting deeper than `limits.MAX_NESTING` (checked
by a linear scan BEFORE the parser runs, so a 3,000-deep document never reaches
Python's recursion limit), integers longer than Python's 4,300-digit limit, and the
NaN/Infinity literals that JSON does not have.
"""
from __future__ import annotations

import json
import math
import re
import stat
import tomllib
from pathlib import Path

from . import limits
from .errors import PlannerError
from .validate import path as check_path

_BOM = "\ufeff"


def read_text(path, what: str = "file", max_bytes: int = limits.MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes` (a leading BOM is dropped)."""
    p = regular_file(path, what, max_bytes)
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)  # a file growing while read is still cut at the limit
    except OSError as e:
        raise PlannerError(f"{p}: cannot read the {what}: {e.strerror or e}") from None
    _check_size(len(data), what, p, max_bytes)
    return decode(data, f"{p}")


def regular_file(path, what: str = "file", max_bytes: int = limits.MAX_FILE_BYTES) -> Path:
    """The path of an existing regular file of at most max_bytes (checked, not read): never a folder,
    a device such as /dev/zero, a pipe or a socket."""
    p = check_path(f"{what} path", path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise PlannerError(f"cannot read {p}: no such {what}") from None
    except OSError as e:
        raise PlannerError(f"{p}: cannot read the {what}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise PlannerError(f"{p} is a folder, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise PlannerError(f"{p} is not a regular file (a device, pipe or socket); give a {what}")
    _check_size(st.st_size, what, p, max_bytes)
    return p


def _check_size(n: int, what: str, where, max_bytes: int) -> None:
    if n > max_bytes:
        raise PlannerError(f"{where}: the {what} is {n:,} bytes; the limit is {max_bytes:,} bytes")


def decode(data: bytes, where: str, max_bytes: int = limits.MAX_FILE_BYTES) -> str:
    """Bytes (a file's, an upload's) as text: at most max_bytes, UTF-8, no NUL bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PlannerError(f"{where}: expected bytes, got {type(data).__name__}")
    _check_size(len(data), "content", where, max_bytes)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise PlannerError(f"{where} is not UTF-8 text (byte {e.start}); is it a binary file?") from None
    if "\x00" in text:
        raise PlannerError(f"{where} holds NUL bytes: a binary file, not text")
    return text.removeprefix(_BOM)


def check_text(text, where: str, max_bytes: int = limits.MAX_FILE_BYTES) -> str:
    """Text handed in directly (pasted, or read by the caller): a str within the size limit, no NUL."""
    if not isinstance(text, str):
        raise PlannerError(f"{where}: expected text, got {type(text).__name__}")
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise PlannerError(f"{where} is larger than the limit of {max_bytes:,} bytes")
    if "\x00" in text:
        raise PlannerError(f"{where} holds NUL characters: a binary file, not text")
    return text.removeprefix(_BOM)


# ---- nesting, scanned before parsing ----

_JSON_SPECIAL = re.compile(r'["\[\]{}]')
_TOML_SPECIAL = re.compile(r'["\'#\[\]{}=.,\n]')


def _string_end(text: str, i: int, quote: str) -> int:
    """Index just past the string opening at i (quote is ", ', \"\"\" or '''); len(text) if unterminated."""
    j = i + len(quote)
    single_line = len(quote) == 1
    while True:
        k = text.find(quote, j)
        nl = text.find("\n", j) if single_line else -1
        if k < 0 or (0 <= nl < k):
            return len(text) if k < 0 else nl  # unterminated: the parser will say so
        if quote[0] == '"':  # basic strings have escapes: an odd run of backslashes escapes the quote
            n = 0
            while text[k - 1 - n] == "\\":
                n += 1
            if n % 2:
                j = k + 1
                continue
        return k + len(quote)


def nesting_depth(text: str, toml: bool = False) -> int:
    """Deepest nesting in one linear pass, strings and comments skipped: [ ] and { } for JSON; for TOML
    also the parts of a dotted key (`a.b.c = 1`, `[a.b.c]`), which nest tables and which tomllib
    handles in quadratic time. For TOML with few brackets and dots it returns an upper bound that is
    within the limit (no scan needed)."""
    if toml:  # fast path: a key sits on one line, so few brackets and few dots per line bound the depth
        lines = text.splitlines() or [""]
        if text.count("[") + text.count("{") <= limits.MAX_NESTING and max(map(_dots, lines)) < limits.MAX_NESTING:
            return min(text.count("[") + text.count("{"), limits.MAX_NESTING)
        return _toml_depth(text)
    return _json_depth(text)


def _dots(line: str) -> int:
    return line.count(".")


def _json_depth(text: str) -> int:
    depth = deepest = i = 0
    while (m := _JSON_SPECIAL.search(text, i)) is not None:
        ch, i = m.group(), m.start()
        if ch == '"':
            i = _string_end(text, i, ch)
            continue
        depth = depth + 1 if ch in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
        if deepest > limits.MAX_NESTING:
            break  # deep enough to refuse: no need to read on
        i += 1
    return deepest


def _toml_depth(text: str) -> int:
    """stack: "[" value arrays and "{" inline tables; a key is read at a line start (top level), in a
    [header], and after { or , in an inline table; its dots count as nesting."""
    stack, deepest, i, in_key, parts = [], 0, 0, True, 1
    while (m := _TOML_SPECIAL.search(text, i)) is not None and deepest <= limits.MAX_NESTING:
        ch, i = m.group(), m.start()
        if ch in "\"'":
            i = _string_end(text, i, ch * 3 if text.startswith(ch * 3, i) else ch)
            continue
        if ch == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        if ch == "." and in_key:
            parts += 1
        elif ch == "=" or (ch == "]" and not stack):  # a key ends (a header's too)
            in_key, parts = False, 1
        elif ch == "\n" and not stack:
            in_key, parts = True, 1
        elif ch == "," and stack and stack[-1] == "{":
            in_key, parts = True, 1
        elif ch in "[{" and not (ch == "[" and in_key and not stack):  # not a [header] or [[header]]
            stack.append(ch)
            in_key, parts = ch == "{", 1
        elif ch in "]}" and stack:
            stack.pop()
        deepest = max(deepest, len(stack), parts)
        i += 1
    return deepest


def _check_nesting(text: str, where: str, toml: bool) -> None:
    depth = nesting_depth(text, toml)
    if depth > limits.MAX_NESTING:
        raise PlannerError(f"{where}: nested more than {limits.MAX_NESTING} levels deep (the limit)")


def data_depth(obj) -> int:
    """Nesting depth of parsed dicts and lists, without recursion (dotted TOML keys nest too)."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            deepest = max(deepest, d + 1)
            if d + 1 > limits.MAX_NESTING:
                return d + 1
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


def check_depth(obj, where: str):
    """`obj` (data a caller hands in) if it nests at most MAX_NESTING deep and holds no integer past
    Python's 4,300-digit limit (which cannot even be printed in a message), else PlannerError."""
    if data_depth(obj) > limits.MAX_NESTING:
        raise PlannerError(f"{where}: nested more than {limits.MAX_NESTING} levels deep (the limit)")
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, int) and o.bit_length() > limits.MAX_INT_DIGITS * 3.32:
            raise PlannerError(f"{where}: holds an integer of more than {limits.MAX_INT_DIGITS:,} digits")
        if isinstance(o, (dict, list)):
            stack.extend(o.values() if isinstance(o, dict) else o)
    return obj


# ---- parsers ----

def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > limits.MAX_INT_DIGITS:
        raise PlannerError(f"an integer of {len(text):,} digits (the limit is {limits.MAX_INT_DIGITS:,})")
    return int(text)


def _json_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise PlannerError(f"the number {text[:40]} is too large for a float")
    return v


def _json_constant(name: str):
    raise PlannerError(f"{name} is not a JSON number; write a finite number or null")


def loads_json(text: str, where: str = "JSON", max_bytes: int = limits.MAX_CONFIG_BYTES):
    """Parse JSON text strictly (no NaN/Infinity, no huge integers, bounded nesting)."""
    text = check_text(text, where, max_bytes)
    _check_nesting(text, where, toml=False)
    try:
        return json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as e:
        raise PlannerError(f"{where} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except PlannerError as e:
        raise PlannerError(f"{where}: {e}") from None
    except (ValueError, RecursionError) as e:  # belt and braces: the scan above should catch both
        raise PlannerError(f"{where} is not valid JSON: {e}") from None


def loads_toml(text: str, where: str = "TOML", max_bytes: int = limits.MAX_FILE_BYTES) -> dict:
    """Parse TOML text with bounded size and nesting (inline and dotted)."""
    text = check_text(text, where, max_bytes)
    _check_nesting(text, where, toml=True)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlannerError(f"{where}: not valid TOML: {e}") from None
    except (ValueError, RecursionError) as e:  # e.g. an integer past Python's 4,300-digit limit
        raise PlannerError(f"{where}: not valid TOML: {' '.join(str(e).split())[:200]}") from None
    return check_depth(data, where)


def read_json(path, what: str = "JSON file", max_bytes: int = limits.MAX_CONFIG_BYTES):
    """read_text + loads_json, errors naming the file."""
    return loads_json(read_text(path, what, max_bytes), str(path), max_bytes)


def read_toml(path, what: str = "TOML file", max_bytes: int = limits.MAX_FILE_BYTES) -> dict:
    return loads_toml(read_text(path, what, max_bytes), str(path), max_bytes)


def as_path(value, what: str) -> Path:
    """A user path argument, checked (type, NUL bytes, length) but not opened."""
    return check_path(f"{what} path", value)

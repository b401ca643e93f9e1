"""What users typed, made inert in Markdown: names, reasons and descriptions go into reports as text.

HTML is escaped (an `<img onerror=...>` in a scenario name stays text), and nothing a user typed can
open a heading, list, table, link, code span or fence: the report's structure is the planner's own.
"""
from __future__ import annotations

import html
import re

_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # what could open an HTML tag or comment ("<0.1%" cannot)
_ENTITY = re.compile(r"&(?=#?\w+;)")


def md_cell(x) -> str:
    """A table cell: no HTML, no cell break, one line (names in cells may be the user's)."""
    text = _ENTITY.sub("&amp;", _TAG.sub("&lt;", str(x)))
    # "[" and "]" escaped: a name in a cell cannot open a link or an image (the viewer's browser would fetch it)
    return re.sub(r"(?<!\\)([\[\]])", r"\\\1", text).replace("|", "\\|").replace("\n", " ")


_INLINE = str.maketrans({c: "\\" + c for c in "\\`*_[]|"})
_LINE_START = re.compile(r"^(\s*)([#>+=~-])")
_LINE_START_NUMBER = re.compile(r"^(\s*)(\d+)([.)])")


def md_inline(text) -> str:
    """User text (a name, a reason quoting one) inside a Markdown line: HTML escaped (<, >, &), no
    emphasis, links, code or table cells, on one line."""
    return html.escape(" ".join(str(text).split()), quote=False).translate(_INLINE)


def fenced(text: str, info: str = "") -> str:
    """A fenced code block longer than any run of backticks inside, so the text cannot close it."""
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def md_quote(text: str) -> str:
    """User text of several lines (a description) as a blockquote that cannot start a heading,
    list, table, fence or HTML block: every line quoted, its line-start markers escaped."""
    out = []
    for line in str(text).split("\n"):
        s = html.escape(line.rstrip(), quote=False).translate(_INLINE)
        s = _LINE_START_NUMBER.sub(r"\1\2\\\3", _LINE_START.sub(r"\1\\\2", s))
        out.append(f"> {s}" if s.strip() else ">")
    return "\n".join(out)


_MARKUP = str.maketrans({c: "\\" + c for c in "\\`*_[]<>!$~|#"})
_AUTOLINK = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=www)\.|@", re.IGNORECASE)  # GFM autolink literals


def md_plain(text) -> str:
    """Text for a Streamlit Markdown element (st.markdown, st.success, a caption, a widget's help), shown
    as written: what could open markup is backslash-escaped (CommonMark renders an escaped character as
    itself), so a name holding `![x](https://...)`, `<img src=...>`, `[a](b)`, a bare `https://`, `www.`
    or e-mail address (GFM autolinks), `$...$` (Streamlit's LaTeX) or a `# heading` or `- item` stays text,
    and nothing in it can make the viewer's browser fetch from elsewhere. Line breaks are kept."""
    lines = []
    for line in str(text).split("\n"):
        s = _AUTOLINK.sub(lambda m: "\\" + m.group(0), line.translate(_MARKUP))
        lines.append(_LINE_START_NUMBER.sub(r"\1\2\\\3", _LINE_START.sub(r"\1\\\2", s)))
    return "  \n".join(lines)

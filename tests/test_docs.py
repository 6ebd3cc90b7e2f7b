"""docs/language.md stays true to the implementation.

- every ```qnn block is a complete spec the checker accepts (```qnn-fragment blocks are not checked);
- every ```show block is exactly what `qnnc show` prints for the ```qnn block before it;
- every gate, template, encoding, layer, dataset, optimizer, loss, train field and measurement
  is named in backticks, and every argument table entry matches its schema's defaults;
- the grammar section is grammar/qnn.lark verbatim; links and error codes resolve.

After changing a layer, template or `show`, regenerate the ```show blocks with
`python tests/test_docs.py --update` and review the diff.
"""
from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest

from qnnc.check import check_text
from qnnc.language.layers import LAYERS, QUANTUM_LAYERS
from qnnc.check.model import INPUTS
from qnnc.check.quantum import MEASURE_BASES
from qnnc.language.training import DATASETS, FIELDS, LOSSES, OPTIMIZERS
from qnnc.language.encodings import ENCODINGS
from qnnc.language.gates import GATES
from qnnc.language.templates import CONV_BLOCKS, ENTANGLERS, POOL_BLOCKS, TEMPLATES
from qnnc.emit.summary import model_rows, render_plain

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
KNOWN_FENCES = {"", "qnn", "qnn-fragment", "show", "lark"}


def fences(text: str) -> list[tuple[str, str, int]]:
    """(info string, body, line of the opening fence) of every fenced code block."""
    found, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        if lines[i].startswith("```"):
            info, start = lines[i][3:].strip(), i
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                i += 1
            found.append((info, "\n".join(lines[start + 1: i]) + "\n", start + 1))
        i += 1
    return found


def show_output(spec: str) -> str:
    """What `qnnc show` prints (plain, not a terminal) for every model of `spec`."""
    program, diagnostics = check_text(spec)
    assert not diagnostics, diagnostics
    return "".join(render_plain(f"model {m.name}", model_rows(m)) for m in program.models)


def paired_show_blocks(text: str) -> list[tuple[str, str, int]]:
    """(preceding qnn spec, show block body, line) for every ```show block."""
    pairs, spec = [], None
    for info, body, line in fences(text):
        if info == "qnn":
            spec = body
        elif info == "show":
            pairs.append((spec, body, line))
    return pairs


def _value(param, value) -> str:
    """A default as the doc writes it: `auto` for a derived default, spec syntax otherwise."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return str(value).lower()
    if param.kind == "string":
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, float):
        return "pi" if math.isclose(value, math.pi) else f"{value:g}"
    return str(value)


def signature(name: str, schema) -> str:
    """`conv2d(out, kernel=3, ...)`: required arguments bare, optional ones with defaults."""
    parts = [p.name if p.required else f"{p.name}={_value(p, p.default)}" for p in schema]
    return f"{name}({', '.join(parts)})" if parts else name


def all_signatures() -> list[str]:
    tables = [{k: v.schema for k, v in LAYERS.items()}, {k: v.schema for k, v in QUANTUM_LAYERS.items()},
              {k: v.schema for k, v in TEMPLATES.items()}, {k: v.schema for k, v in ENCODINGS.items()},
              DATASETS, OPTIMIZERS]
    found = [signature(name, schema) for table in tables for name, schema in table.items()]
    return found + [f"{kind}({', '.join(dims)})" for kind, dims in INPUTS.items()]


def documented_names() -> list[str]:
    return [*GATES, *TEMPLATES, *ENCODINGS, *LAYERS, *QUANTUM_LAYERS, *DATASETS, *OPTIMIZERS, *LOSSES,
            *FIELDS, *INPUTS, *CONV_BLOCKS, *POOL_BLOCKS, *ENTANGLERS,
            *(f"measure {basis}" for basis in MEASURE_BASES)]


def github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


_TEXT = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
_SPECS = [(body, line) for info, body, line in fences(_TEXT) if info == "qnn"]


def test_doc_has_examples():
    assert len(_SPECS) >= 10, "docs/language.md should show complete, checked examples"


@pytest.mark.parametrize("spec", [s for s, _ in _SPECS], ids=[f"line{line}" for _, line in _SPECS])
def test_qnn_block_checks(spec):
    program, diagnostics = check_text(spec)
    assert diagnostics == [], "\n".join(f"{d.code}: {d.message} at {d.span}" for d in diagnostics)
    assert program is not None


def test_fences_are_known_kinds(doc):
    unknown = [(info, line) for info, _, line in fences(doc) if info not in KNOWN_FENCES]
    assert not unknown, f"mark specs ```qnn (checked) or ```qnn-fragment (not checked): {unknown}"


def test_show_blocks_match_qnnc_show(doc):
    pairs = paired_show_blocks(doc)
    assert pairs
    for spec, body, line in pairs:
        assert spec is not None, f"```show at line {line} has no ```qnn block before it"
        assert body == show_output(spec), f"```show at line {line} is stale: run `python tests/test_docs.py --update`"


@pytest.mark.parametrize("name", documented_names())
def test_name_is_documented(doc, name):
    assert f"`{name}`" in doc


@pytest.mark.parametrize("sig", all_signatures())
def test_signature_and_defaults_are_documented(doc, sig):
    assert f"`{sig}`" in doc, f"document `{sig}` (arguments in order, current defaults)"


def test_grammar_section_is_verbatim(doc):
    grammars = [body for info, body, _ in fences(doc) if info == "lark"]
    assert grammars == [(ROOT / "grammar" / "qnn.lark").read_text(encoding="utf-8")]


def test_links_resolve(doc):
    text = re.sub(r"^```.*?^```$", "", doc, flags=re.M | re.S)
    anchors = {github_anchor(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}
    prose = re.sub(r"`[^`\n]*`", "", text)  # `rotations[k](w[l, i, k])` is code, not a link
    for target in re.findall(r"\]\(([^)]+)\)", prose):
        if target.startswith("#"):
            assert target[1:] in anchors, f"no heading for link {target}"
        elif not re.match(r"\w+://", target):
            assert (DOC.parent / target).exists(), f"broken link {target}"


def test_error_codes_exist(doc):
    listed = set(re.findall(r"`(E\d{3})`", (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")))
    used = set(re.findall(r"\bE\d{3}\b", doc))
    assert used <= listed, f"codes missing from docs/errors.md: {sorted(used - listed)}"


def update() -> None:
    """Rewrite every ```show block of docs/language.md from its preceding ```qnn block."""
    lines, out, spec, i = _TEXT.split("\n"), [], None, 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].startswith("```"):
            info, body_start = lines[i][3:].strip(), i + 1
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                i += 1
            body = lines[body_start:i]
            if info == "qnn":
                spec = "\n".join(body) + "\n"
            out += show_output(spec).rstrip("\n").split("\n") if info == "show" else body
            out.append(lines[i] if i < len(lines) else "```")
        i += 1
    DOC.write_text("\n".join(out), encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    update()

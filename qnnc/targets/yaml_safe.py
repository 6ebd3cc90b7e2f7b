"""Reading target YAML with every resource bounded before it is spent.

A target file is read only if it is a regular file of at most `MAX_FILE_BYTES` (so `/dev/zero`,
a FIFO or a terminal is refused without reading it), then parsed by `BoundedLoader`, PyYAML's
`SafeLoader` with limits checked while the node tree is composed, before anything is built:
nesting depth, scalar length, and the number of values counted with every alias expanded, so a
"billion laughs" document is refused at the alias that crosses the limit. Aliases that refer to
the node containing them (recursive documents) and duplicate mapping keys are refused too.
"""
from __future__ import annotations

import os

import yaml

from ..syntax.source import read_bounded as read_file

MAX_FILE_BYTES = 1 << 20  # 1 MiB: the shipped targets are under 12 KiB
MAX_DEPTH = 32  # nesting levels; the schema needs 4
MAX_NODES = 50_000  # values, each alias counted as the values it stands for; a 1024-qubit target needs ~35,000
MAX_SCALAR_CHARS = 10_000  # characters in one scalar
MAX_NUMBER_CHARS = 100  # characters in one number (`1:2:3…` is a base-60 integer in YAML 1.1)
MERGE, NUMBERS = "tag:yaml.org,2002:merge", ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class YAMLLimitError(yaml.MarkedYAMLError):
    """The document is past one of the reader's limits (E602); `problem_mark` says where."""

    def __init__(self, problem: str, mark, help: str | None = None):
        super().__init__(problem=problem, problem_mark=mark)
        self.help = help


def read_bounded(path: os.PathLike | str, limit: int = MAX_FILE_BYTES) -> str:
    """The text of the regular file at `path`, read without blocking and at most `limit` bytes.
    Raises NotAFile, OSError, UnicodeDecodeError, or YAMLLimitError (mark None) when longer."""
    data = read_file(path, limit + 1, regular_only=True)
    if len(data) > limit:
        raise YAMLLimitError(f"target file is larger than {limit / 2**20:g} MiB", None,
                             "target files are small (the shipped ones are under 12 KiB): is this the right file?")
    return data.decode("utf-8")


class BoundedLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses, while composing, documents past MAX_DEPTH, MAX_NODES (alias
    expansions included) or MAX_SCALAR_CHARS, recursive aliases and duplicate keys; errors raised
    by a constructor (`!!int abc`, a 13th month) become ConstructorErrors at the node."""

    def __init__(self, stream):
        super().__init__(stream)
        self.depth, self.nodes, self.sizes = 0, 0, {}  # sizes: anchor -> values it stands for

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.anchors and event.anchor not in self.sizes:
                raise YAMLLimitError(f"alias `*{event.anchor}` refers to the node that contains it",
                                     event.start_mark, "a target file cannot be recursive")
            self._count(self.sizes.get(event.anchor, 0), event.start_mark)
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise YAMLLimitError(f"YAML nested deeper than {MAX_DEPTH} levels", event.start_mark,
                                 "a target file needs at most 4 levels")
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR_CHARS:
            raise YAMLLimitError(f"a value longer than {MAX_SCALAR_CHARS:,} characters", event.start_mark)
        before = self.nodes
        self._count(1, event.start_mark)
        self.depth += 1
        node = super().compose_node(parent, index)
        self.depth -= 1
        if event.anchor is not None:
            self.sizes[event.anchor] = self.nodes - before
        return node

    def _count(self, nodes: int, mark) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise YAMLLimitError(f"more than {MAX_NODES:,} YAML values, counting each alias as the values it "
                                 "stands for", mark, "a target file needs a few thousand; are aliases nested "
                                 "inside aliases?")

    def construct_object(self, node, deep=False):
        if isinstance(node, yaml.ScalarNode) and node.tag in NUMBERS and len(node.value) > MAX_NUMBER_CHARS:
            raise YAMLLimitError(f"a number written with more than {MAX_NUMBER_CHARS} characters", node.start_mark)
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - any constructor failure is a fault of the document
            text = node.value if isinstance(node.value, str) else node.id
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read `{text[:40]}` as `{node.tag.rsplit(':', 1)[-1]}` ({exc})",
                node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != MERGE:
                    first = seen.setdefault((key.tag, key.value), key)
                    if first is not key:
                        raise yaml.constructor.ConstructorError(
                            f"duplicate key `{key.value[:40]}`", first.start_mark,
                            f"duplicate key `{key.value[:40]}` (first on line {first.start_mark.line + 1})",
                            key.start_mark)
        return super().construct_mapping(node, deep)


def compose(source: str) -> yaml.Node | None:
    """The node tree of `source` (None for an empty document), within the reader's limits."""
    loader = BoundedLoader(source)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def load(source: str):
    """The Python value of the single YAML document in `source`, within the reader's limits.
    Raises YAMLLimitError past a limit, other yaml.YAMLErrors for invalid YAML."""
    loader = BoundedLoader(source)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()

"""A page of comments, as the comments service lists it, made into a thread to render."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CommentNode:
    comment: Mapping[str, Any]
    children: list[CommentNode] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.comment["id"])


def nest_comments(items: Sequence[Mapping[str, Any]]) -> list[CommentNode]:
    """Turn the display-ordered list (each comment followed by its replies) into a tree.

    ``depth`` is the display depth the comments service gives (it owns the rule: how deep a
    thread shows, and ``in_reply_to`` where that hides whom a reply answers). A reply is hung
    under the nearest preceding comment one level up, so the page nests exactly as the service
    ordered it, and a reply whose parent is on another page starts a thread of its own.
    """
    roots: list[CommentNode] = []
    stack: list[tuple[int, CommentNode]] = []
    for item in items:
        depth = max(0, int(item.get("depth") or 0))
        node = CommentNode(item)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack and depth > 0:
            stack[-1][1].children.append(node)
        else:
            roots.append(node)
        stack.append((depth, node))
    return roots

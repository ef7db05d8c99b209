"""Hypothesis strategies for hostile input (the seeded settings are in tests/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

HOSTILE_STRINGS = [
    "",
    " ",
    "\ud800",
    "\udfff",
    "a\nb",
    "\r\n2026-12-02 ERROR forged",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "<script>alert(1)</script>",
    "0.1.0<script>",
    "1.2.3\n",
    "1.2",
    "999.1.1.1",
    "fe80::1%eth0",
    "x" * 300,
    "é" * 70,
    "null",
    "NaN",
    "mh-a1b2c3",
    "../../etc/passwd",
]
HOSTILE_NUMBERS: list[Any] = [
    -1,
    0,
    2**31,
    2**32,
    2**53,
    2**63,
    2**64,
    -(2**63) - 1,
    10**400,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    0.5,
    -0.0,
    True,
    False,
]

# Every character, lone surrogates and controls included.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    any_text,
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(HOSTILE_NUMBERS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(
            st.one_of(any_text, st.sampled_from(["n", "id", "type"])), inner, max_size=5
        ),
    ),
    max_leaves=12,
)


def mutations(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """valid with one field replaced by a hostile value, removed, or a field added."""
    keys = sorted(valid)
    return st.one_of(
        st.builds(lambda key, value: valid | {key: value}, st.sampled_from(keys), json_values),
        st.builds(lambda key: {k: v for k, v in valid.items() if k != key}, st.sampled_from(keys)),
        st.builds(lambda key, value: valid | {key: value}, any_text, json_values),
    )


def dump(value: Any) -> bytes:
    """value as the bytes a hostile node publishes: NaN, Infinity and lone surrogates allowed."""
    return json.dumps(value).encode()


def payloads(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Bytes a hostile node could publish on the topic whose valid payload is `valid`."""
    return st.one_of(
        st.binary(max_size=64),
        json_values.map(dump),
        mutations(valid).map(dump),
        st.builds(lambda text: dump(valid)[: len(text)], any_text),  # cut short
    )


def orjson_values(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Only the values a websocket or HTTP client can send: what HA's JSON parser accepts."""

    def parses(value: Any) -> bool:
        try:
            return orjson.loads(json.dumps(value)) == value
        except ValueError, TypeError:
            return False

    return strategy.filter(parses)


def examples[T](strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """count seeded examples of strategy, for tests that cannot run under @given (async ones)."""
    found: list[T] = []

    @settings(max_examples=count, phases=[Phase.generate])
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found

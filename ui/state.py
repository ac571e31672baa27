"""Per-session state, in one place: bounded caches of what a session computed, and widgets that
remember their value across pages and in the URL.

Nothing here is shared between sessions: it all lives in ``st.session_state``. What every session
may share (pretrained models, task data, their held-out runs) is in :mod:`ui.resources`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")


def keep_newest(store: dict, most: int) -> None:
    """Drop a per-session store's oldest entries (insertion order) until ``most`` remain."""
    while len(store) > most:
        store.pop(next(iter(store)))


def cached(store: str, key: Hashable, compute: Callable[[], T], *, most: int,
           spinner: str | None = None, max_bytes: int | None = None,
           size: Callable[[Any], int] | None = None,
           keep: Callable[[Hashable], bool] | None = None) -> T:
    """``compute()`` once per ``key`` in this session's store ``store``, kept for reruns.

    The store keeps the ``most`` newest entries and, given ``max_bytes`` and ``size``, drops the
    oldest entries (those ``keep`` does not protect) while the entries hold more bytes.
    ``spinner`` is shown while computing.
    """
    entries: dict = st.session_state.setdefault(f"cache_{store}", {})
    if key not in entries:
        if spinner is None:
            entries[key] = compute()
        else:
            with st.spinner(spinner):
                entries[key] = compute()
        keep_newest(entries, most)
        if max_bytes is not None and size is not None:
            older = [k for k in entries if k != key and not (keep and keep(k))]
            while older and sum(size(v) for v in entries.values()) > max_bytes:
                entries.pop(older.pop(0))
    return entries[key]


def cached_value(store: str, key: Hashable) -> Any:
    """What :func:`cached` keeps under ``key``, or ``None``."""
    return st.session_state.get(f"cache_{store}", {}).get(key)


def cache_entries(store: str) -> dict:
    """The whole store (for tests and bounds)."""
    return st.session_state.get(f"cache_{store}", {})


def remembered(widget: Callable[..., Any], label: str, options: list[Any], key: str,
               query: str | None = None, default: Any = None, **kwargs: Any) -> Any:
    """Draw ``widget(label, options, key=key, ...)`` with its last value in this session, else the
    URL's ``?query=`` value, else ``default`` (if among ``options``), and keep what it returns for
    other pages and in the URL.

    Pages do not share widget state, so the value is also kept under ``kept_{key}``; a value
    that is not among ``options`` (left over from another model's choices) is dropped.
    """
    names = [str(o) for o in options]
    if key in st.session_state:
        if st.session_state[key] in options:
            # Re-assigning makes the value the session's own, so it survives a page switch.
            st.session_state[key] = st.session_state[key]
        else:
            del st.session_state[key]
    if key not in st.session_state:
        for wanted in (st.session_state.get(f"kept_{key}"),
                       st.query_params.get(query) if query else None):
            if wanted is not None and str(wanted) in names:
                st.session_state[key] = options[names.index(str(wanted))]
                break
        else:
            if default is not None and default in options:
                st.session_state[key] = default
    value = widget(label, options, key=key, **kwargs)
    st.session_state[f"kept_{key}"] = str(value)
    if query:
        share(query, str(value))
    return value


def remembered_set(widget: Callable[..., Any], label: str, options: list[int], key: str,
                   query: str, default: list[int], **kwargs: Any) -> list[int]:
    """:func:`remembered` for a multi-select of integers, kept in the URL as ``?query=3,17``.

    Without a value in this session, the URL's (those of its numbers among ``options``), else
    ``default``.
    """
    if key not in st.session_state:
        asked = _numbers(st.session_state.get(f"kept_{key}", st.query_params.get(query)))
        picked = [n for n in asked if n in options] if asked is not None else None
        st.session_state[key] = picked if picked else [n for n in default if n in options]
    else:
        st.session_state[key] = [n for n in st.session_state[key] if n in options]
    value = widget(label, options, key=key, **kwargs)
    text = ",".join(str(n) for n in value)
    st.session_state[f"kept_{key}"] = text
    share(query, text)
    return value


def remembered_value(widget: Callable[..., Any], label: str, key: str, query: str,
                     default: T, parse: Callable[[str], T | None],
                     show: Callable[[T], str] = str, **kwargs: Any) -> T:
    """:func:`remembered` for a widget without a list of options (a number, a range slider):
    its last value in this session, else the URL's ``?query=`` value read by ``parse`` (which
    returns ``None`` for text it cannot read, or a value out of range), else ``default``; kept
    in the URL as ``show(value)``."""
    if key not in st.session_state:
        for wanted in (st.session_state.get(f"kept_{key}"), st.query_params.get(query)):
            value = None if wanted is None else parse(str(wanted)[:200])
            if value is not None:
                st.session_state[key] = value
                break
        else:
            st.session_state[key] = default
    value = widget(label, key=key, **kwargs)
    st.session_state[f"kept_{key}"] = show(value)
    share(query, show(value))
    return value


def parse_number(text: str) -> float | None:
    """A finite number from a URL, else ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_span(text: str, steps: int) -> tuple[int, int] | None:
    """A span of steps ``start-end`` (``0 ≤ start < end ≤ steps``) from a URL, else ``None``."""
    start, _, end = text.partition("-")
    if not (start.isdigit() and end.isdigit()):
        return None
    span = int(start), int(end)
    return span if 0 <= span[0] < span[1] <= steps else None


def show_span(span: tuple[int, int]) -> str:
    return f"{int(span[0])}-{int(span[1])}"


def _numbers(text: str | None) -> list[int] | None:
    if not text:
        return None
    parts = [part.strip() for part in str(text)[:10_000].split(",")]
    return [int(part) for part in parts if part.isdigit()][:1000]


def share(query: str, value: str) -> None:
    """Put a choice that shapes the view in the URL, and keep it for :func:`shared_choices`
    (the Export page's link carries the choices of every page, not only its own)."""
    st.query_params[query] = value
    st.session_state.setdefault("shared_choices", {})[query] = value


def shared_choices() -> dict[str, str]:
    """Every choice this session put in the URL (:func:`share`), by query parameter."""
    return dict(st.session_state.get("shared_choices", {}))


def remember_text(key: str) -> None:
    """Restore a free-text widget's value (``kept_{key}``) before it is drawn on another page."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(f"kept_{key}", "")


def keep_text(key: str, value: str) -> None:
    st.session_state[f"kept_{key}"] = value


def reset_when_changed(key: str, *depends: Any, query: str | None = None,
                       together: tuple[tuple[str, str | None], ...] = ()) -> bool:
    """Forget widget ``key``'s value when what its options depend on (``depends``) changed since
    the last run, so that it opens on its default again instead of a stale choice (its value
    kept for other pages and, on a change, its ``?query=`` value too: the URL's value only
    counts when the view is first opened). ``together`` names other widgets, as ``(key,
    query)`` pairs, whose defaults follow the same view. Returns whether it was reset."""
    marker = f"{key}__depends"
    if st.session_state.get(marker) == depends:
        return False
    changed = marker in st.session_state
    for widget, its_query in ((key, query), *together):
        st.session_state.pop(widget, None)
        if changed:
            st.session_state.pop(f"kept_{widget}", None)
            if its_query:
                st.query_params.pop(its_query, None)
    st.session_state[marker] = depends
    return True

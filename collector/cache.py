"""A bounded cache that is filled on purpose: ``get`` never adds, ``put`` evicts the oldest.

``functools.lru_cache`` stores every key it is asked about, so whatever a sender makes up
(a GPC-flagged body, a rate-limited one) takes a slot. The intake asks this one first and puts
a prepared event in only once it was accepted, so a flood of refused requests evicts nothing.
Eviction is first in, first out: a plain ``dict`` lookup costs ~40 ns, an ``OrderedDict``'s
move-to-end for true LRU ~3x that, and an entry that is evicted while hot is simply put back.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``maxsize`` entries; the first put in is the first to go."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._data: dict[K, V] = {}
        self.get = self._data.get  # the hot path calls it per request: no wrapper frame

    def put(self, key: K, value: V) -> None:
        data = self._data
        if key not in data and len(data) >= self._maxsize:
            del data[next(iter(data))]
        data[key] = value

    def __len__(self) -> int:
        return len(self._data)

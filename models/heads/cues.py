"""Cue patterns matched many at a time: a literal prefilter in front of Python's own regular expressions.

A head's cues are a few hundred regular expressions over folded text (``models/heads/linear.py``), and a
text rarely matches any of them, yet searching each pattern alone costs ~0.5 us per pattern per text:
the largest cost of a run outside the encoder (bench/RESULTS.md, "Throughput"). Most patterns cannot match
unless some literal text occurs: ``keep (having to )?(contact|call)`` needs one of four strings, a
Persian pattern needs its Persian words. ``required_literals`` reads that set from the pattern's parse
(the ``re`` module's own parser), one Aho-Corasick pass (pyahocorasick) finds which of all the patterns'
literals a text holds, and only the patterns those literals name are searched, with the same compiled
``re`` pattern as before, so a hit is exactly a ``re.search`` hit. A pattern with no known required
literal (it could match text made of anything, or the analysis gives up on it: case-insensitive or
verbose flags, a class of more than ``CLASS_CAP`` characters) is searched in every text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

try:  # Python >= 3.11 names the parser re._parser; sre_parse is the older, deprecated alias
    from re import _constants as C, _parser as P
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

CAP = 64  # most strings one item may enumerate before it is treated as "any text"
CLASS_CAP = 16  # most characters a character class may enumerate
ZERO_WIDTH = {C.AT, C.ASSERT, C.ASSERT_NOT}
REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT} | ({C.POSSESSIVE_REPEAT} if hasattr(C, "POSSESSIVE_REPEAT") else set())


@dataclass(frozen=True)
class _Info:
    exact: frozenset[str] | None  # every string the item can match (a small finite set), else None
    need: frozenset[str] | None  # every match contains one of these (none empty), else None: no guarantee


OPAQUE = _Info(None, None)


def required_literals(pattern: str | re.Pattern) -> frozenset[str] | None:
    """Strings one of which occurs in every match of ``pattern``, or None when no such set is known.

    Conservative by construction: what the parse cannot enumerate (``\\w``, ``.``, a negated or large
    class, a backreference, an inline flag) counts as any text, and zero-width items (``\\b``, ``^``,
    lookarounds) are skipped, since they consume nothing. Case-insensitive patterns get None."""
    p = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
    if p.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    info = _seq(P.parse(p.pattern, p.flags))
    return _best([info.exact] if info.exact is not None else [], info)


def _best(runs: list[frozenset[str]], info: _Info) -> frozenset[str] | None:
    cands = [s for s in [*runs, info.need] if s and "" not in s]
    if not cands:
        return None
    return max(cands, key=lambda s: (min(map(len, s)), -len(s)))


def _seq(items) -> _Info:
    runs: list[frozenset[str]] = []
    needs: list[frozenset[str]] = []
    cur: set[str] | None = {""}
    whole: set[str] | None = {""}  # the exact set of the whole sequence while every item is exact
    for op, av in items:
        if op in ZERO_WIDTH:
            continue
        it = _item(op, av)
        if it.need:
            needs.append(it.need)
        if whole is not None:
            whole = ({a + b for a in whole for b in it.exact}
                     if it.exact is not None and len(whole) * len(it.exact) <= CAP else None)
        if it.exact is not None and cur is not None and len(cur) * len(it.exact) <= CAP:
            cur = {a + b for a in cur for b in it.exact}
            continue
        if cur:
            runs.append(frozenset(cur))
        cur = set(it.exact) if it.exact is not None else {""}
    if cur:
        runs.append(frozenset(cur))
    need = _best(runs + needs, OPAQUE)
    return _Info(frozenset(whole) if whole is not None else None, need)


def _item(op, av) -> _Info:
    if op == C.LITERAL:
        return _exact({chr(av)})
    if op == C.IN:
        return _charset(av)
    if op == C.SUBPATTERN:
        _group, add, dele, sub = av
        return OPAQUE if (add or dele) else _seq(sub)
    if op == C.ATOMIC_GROUP:
        return _seq(av)
    if op == C.BRANCH:
        alts = [_seq(a) for a in av[1]]
        exact = None
        if all(a.exact is not None for a in alts):
            u = set().union(*(a.exact for a in alts))
            exact = u if len(u) <= CAP else None
        parts = [_best([a.exact] if a.exact is not None else [], a) for a in alts]
        need = frozenset().union(*parts) if all(parts) else None
        return _Info(frozenset(exact) if exact is not None else None, need)
    if op in REPEATS:
        lo, hi, sub = av
        body = _seq(sub)
        exact = _repeat(body.exact, lo, hi) if body.exact is not None and hi <= 3 else None  # x?, x{0,2}
        need = _best([body.exact] if body.exact is not None else [], body) if lo >= 1 else None
        return _Info(exact, need)
    return OPAQUE  # ANY, CATEGORY, NOT_LITERAL, GROUPREF, GROUPREF_EXISTS, ...


def _repeat(body: frozenset[str], lo: int, hi: int) -> frozenset[str] | None:
    """Every string of ``lo`` to ``hi`` copies of the body's strings, or None past the cap."""
    out, level = set(), {""}
    for k in range(hi + 1):
        if k >= lo:
            out |= level
        if len(out) > CAP:
            return None
        if k < hi:
            level = {a + b for a in level for b in body}
            if len(level) > CAP:
                return None
    return frozenset(out)


def _exact(strings: set[str]) -> _Info:
    s = frozenset(strings)
    return _Info(s, s if "" not in s else None)


def _charset(items) -> _Info:
    chars: set[str] = set()
    for op, av in items:
        if op == C.LITERAL:
            chars.add(chr(av))
        elif op == C.RANGE and av[1] - av[0] < CLASS_CAP:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:  # NEGATE, CATEGORY, a large range
            return OPAQUE
        if len(chars) > CLASS_CAP:
            return OPAQUE
    return _exact(chars)


class CuePatterns(Mapping[str, list[re.Pattern]]):
    """label -> its compiled patterns (a read-only mapping), and ``hits``: which labels' cues occur in texts.

    ``hits`` gives exactly what searching every pattern of every label in every text gives."""

    def __init__(self, patterns: Mapping[str, list[re.Pattern]]):
        import ahocorasick

        self._patterns = {lab: list(ps) for lab, ps in patterns.items()}
        self._automaton = ahocorasick.Automaton()
        self._always: dict[str, list[re.Pattern]] = {}
        self._by_literal: list[list[tuple[str, re.Pattern]]] = []
        index: dict[str, int] = {}
        for lab, ps in self._patterns.items():
            for p in ps:
                lits = required_literals(p)
                if lits is None:
                    self._always.setdefault(lab, []).append(p)
                    continue
                for lit in lits:
                    if lit not in index:
                        index[lit] = len(self._by_literal)
                        self._by_literal.append([])
                        self._automaton.add_word(lit, index[lit])
                    self._by_literal[index[lit]].append((lab, p))
        self.n_unfiltered = sum(map(len, self._always.values()))
        if index:
            self._automaton.make_automaton()
        self._has_literals = bool(index)

    def __getitem__(self, label: str) -> list[re.Pattern]:
        return self._patterns[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._patterns)

    def __len__(self) -> int:
        return len(self._patterns)

    def hits(self, folded: list[str], labels: list[str]) -> np.ndarray:
        """(n, labels) 0/1 matrix for already folded texts."""
        H = np.zeros((len(folded), len(labels)), dtype=np.float32)
        col = {lab: k for k, lab in enumerate(labels)}
        always = [(col[lab], ps) for lab, ps in self._always.items() if lab in col]
        for i, f in enumerate(folded):
            row = H[i]
            for k, ps in always:
                if any(p.search(f) for p in ps):
                    row[k] = 1.0
            if not self._has_literals:
                continue
            tried: set[tuple[int, int]] = set()  # (label, pattern): re caches, so labels may share one
            for _end, li in self._automaton.iter(f):
                for lab, p in self._by_literal[li]:
                    k = col.get(lab)
                    if k is None or row[k] or (k, id(p)) in tried:
                        continue
                    tried.add((k, id(p)))
                    if p.search(f):
                        row[k] = 1.0
        return H

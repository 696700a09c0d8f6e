"""Which funding programmes are community safety (issue 13): ``programmes.csv``'s
``community_safety`` column for the programmes it lists, and for any other programme (named by
an import) the rule in ``community_safety.toml``: its name contains one of the rule's words,
or its funder is one of the rule's funders. A grant with no programme counts when its funder
is one of the rule's funders. Plain Python reading the data files beside it; used by the
imports, the migration that added the column and the funding answers."""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass
from functools import cache

from directory.data import DATA_DIR, org_id_key

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> tuple[str, ...]:
    """Lower-cased words, punctuation and apostrophes dropped ("Victims'" → victims;
    "anti-social" → anti, social)."""
    return tuple(_WORD.findall(text.lower().replace("'", "").replace("’", "")))


@dataclass(frozen=True)
class CommunitySafetyRule:
    phrases: tuple[tuple[str, ...], ...]
    funders: frozenset[str]

    def name_matches(self, name: str | None) -> bool:
        words = _words(name or "")
        return any(
            words[i : i + len(phrase)] == phrase
            for phrase in self.phrases
            for i in range(len(words) - len(phrase) + 1)
        )

    def funder_matches(self, funder_ref: str | None) -> bool:
        return funder_ref is not None and org_id_key(funder_ref) in self.funders

    def counts_grant(
        self, programme_id: str | None, programme_flag: bool | None, funder_ref: str | None
    ) -> bool:
        """Whether a grant is community safety: its programme's flag, or when it has no
        programme, its funder (the one rule of the funding facts and a service's own read)."""
        if programme_id is not None:
            return bool(programme_flag)
        return self.funder_matches(funder_ref)

    def classify(self, name: str | None, funder_ref: str | None) -> bool:
        """A programme programmes.csv does not list: by its name's words, or its funder."""
        return self.name_matches(name) or self.funder_matches(funder_ref)


@cache
def rule() -> CommunitySafetyRule:
    with (DATA_DIR / "community_safety.toml").open("rb") as handle:
        data = tomllib.load(handle)
    phrases = tuple(p for p in (_words(w) for w in data["words"]) if p)
    return CommunitySafetyRule(phrases, frozenset(org_id_key(f) for f in data["funders"]))


def parse_flag(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{where}: community_safety must be true or false, not {value!r}")
    return text == "true"


@cache
def listed() -> dict[str, bool]:
    """programmes.csv's classification: programme id → community_safety."""
    with (DATA_DIR / "programmes.csv").open(encoding="utf-8", newline="") as handle:
        return {
            row["id"]: parse_flag(row.get("community_safety") or "", f"programmes.csv {row['id']}")
            for row in csv.DictReader(handle)
        }


def classify(programme_id: str, name: str | None, funder_ref: str | None) -> bool:
    """A programme's classification: programmes.csv's column when it lists the id, else the
    rule."""
    known = listed().get(programme_id)
    return known if known is not None else rule().classify(name, funder_ref)

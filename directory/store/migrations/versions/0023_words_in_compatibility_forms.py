"""Words written in a compatibility form are kept in lower case, as every other

``loose_key`` folded case before it made letters in a compatibility form plain, so
"𝐁𝐮𝐬 Stop" (styled text pasted from social media), "ℍaven" or "Kids™" kept capitals in
the words a row keeps ("Bus stop", "Haven", "kidsTM"). SQLite's index and PostgreSQL's
text search lower-case them and found them, while the patch's ``q``, comparing the words
as kept, did not; and "ǣ" or "ǿ" missed the letters English readers type for them. The
rule now makes such letters plain first (``directory.store.words.loose_key``).

Only text that is not all ASCII can give other words. For those rows, this migration writes
the words again, by the rule as it stood (``loose_words_20261205b``), where they differ:
- the services' ``search_text``, made from their name, organisation's name, description
  and themes' names, the themes in the order of their ids, as 0018 did;
- the services' and organisations' ``search_name`` and the grants' ``search_title``.

On SQLite the triggers of 0022 keep the index with them; PostgreSQL's vector is generated
from the same columns. Downgrading leaves the words as they are: the earlier code finds its
own words in them, a word in a compatibility form as it found it before.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

from __future__ import annotations

from directory.store.migrations.frozen import loose_words_20261205b as _words
from directory.store.migrations.frozen import rewrite_held_words_20261205b as _rewrite

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rewrite(_words)


def downgrade() -> None:
    pass

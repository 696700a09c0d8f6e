"""Characters that are not seen join the words they stand in, not part them

``loose_key`` read a soft hyphen (Word's optional hyphen, kept when text is pasted from a
document), a zero-width joiner or non-joiner, a word joiner or a byte-order mark as a
space, so "men\u00adtoring" was kept as the words "men toring": a service describing its
"mentoring" so was not found by ``q=mentoring``, and a query holding one found nothing. The
rule now leaves them out first (``directory.store.words.loose_key``).

Only text that is not all ASCII can hold them. For those rows, this migration writes the
words again by the rule as it stands (``loose_words_20261206``), where they differ, as 0023
did: the services' ``search_text`` and ``search_name``, the organisations' ``search_name``
and the grants' ``search_title``. Downgrading leaves the words as they are.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

from directory.store.migrations.frozen import loose_words_20261206 as _words
from directory.store.migrations.frozen import rewrite_held_words_20261205b as _rewrite

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rewrite(_words)


def downgrade() -> None:
    pass

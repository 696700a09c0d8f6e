"""Atom 1.0 (RFC 4287) documents: the elements both feeds (changes, opportunities) are made
of, in the Atom namespace, with text XML can carry. No Flask here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"

#: what XML 1.0 (§2.2) cannot carry: the C0 control characters but tab, line feed and
#: carriage return, half of a surrogate pair, U+FFFE and U+FFFF. Writes and imports refuse
#: the ones people can send (directory/ingest/values.py ``unstorable``) or turn them into
#: spaces (``clean_text``); this keeps a feed well-formed whatever was held before
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML cannot carry (one bad name must not make the
    whole feed unreadable)."""
    return _NOT_XML.sub("", text)


def feed() -> ET.Element:
    """An empty ``<feed>``, written with Atom as its default namespace."""
    ET.register_namespace("", ATOM)
    return ET.Element(f"{{{ATOM}}}feed")


def element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """A child ``<tag>`` of ``parent`` in the Atom namespace, holding ``text``."""
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        child.text = xml_text(text)
    return child


def document(root: ET.Element) -> bytes:
    """The feed as UTF-8 bytes with an XML declaration."""
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)

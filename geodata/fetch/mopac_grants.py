"""MOPAC's grants as published to the 360Giving Data Registry.

Discover (DATA-SOURCES.md §8): ``https://registry.threesixtygiving.org/data.json`` is a
list of datasets (``title, identifier, license, license_name, issued, modified,
publisher{name, prefix, website}, distribution[{downloadURL, accessURL, title}]``).
The entries kept are those whose publisher name is the Mayor's Office for Policing and
Crime (any apostrophe, any case) or MOPAC. MOPAC's publisher prefix is not known, so it
is never used to select. Each entry's ``identifier``, ``modified`` and ``downloadURL``
make the version.

Fetch: every distribution file is downloaded as published (360Giving JSON, XLSX or
CSV, told apart by first bytes, then Content-Type, then extension), its grants counted,
and written to ``grants/mopac_360giving_<identifier-slug>.<ext>``.
"""

from __future__ import annotations

import io
import json
import os
import re
import unicodedata
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from geodata.errors import FetchError, NotPublishedError
from geodata.fetch.base import FetchedFile, Found, Staging, csv_rows, scratch_dir
from geodata.sources import sha256_file

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = ["MopacGrants", "SOURCE", "REGISTRY_URL", "is_mopac", "detect_format"]

REGISTRY_URL = "https://registry.threesixtygiving.org/data.json"
PUBLISHER = "Mayor's Office for Policing and Crime"
KEY_PREFIX = "mopac_grants:"
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")


def _normalise(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).lower()
    text = _APOSTROPHES.sub("", text)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def is_mopac(publisher_name: str) -> bool:
    """Whether a 360Giving publisher name is MOPAC's (apostrophe- and case-tolerant)."""
    normal = _normalise(publisher_name)
    return "mayors office for policing and crime" in normal or bool(re.search(r"\bmopac\b", normal))


def _slug(identifier: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", identifier.lower()).strip("-") or "dataset"


def detect_format(first_bytes: bytes, content_type: str, url: str) -> str:
    """``"json"``, ``"xlsx"``, ``"xls"`` or ``"csv"``: by first bytes, Content-Type, extension."""
    start = first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"PK\x03\x04"):
        return "xlsx"
    if start.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if start[:1] in (b"{", b"["):
        return "json"
    media = content_type.split(";")[0].strip().lower()
    if "json" in media:
        return "json"
    if "spreadsheetml" in media:
        return "xlsx"
    if "ms-excel" in media:
        return "xls"
    suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix.lower().lstrip(".")
    if suffix in ("json", "xlsx", "xls"):
        return suffix
    return "csv"


def _entries(registry: Any) -> list[dict[str, Any]]:
    if not isinstance(registry, list):
        raise FetchError(
            f"{REGISTRY_URL}: expected a list of datasets, got {type(registry).__name__}",
            url=REGISTRY_URL,
        )
    chosen = []
    for entry in registry:
        if not isinstance(entry, dict):
            continue
        publisher = entry.get("publisher")
        name = publisher.get("name") if isinstance(publisher, dict) else None
        if isinstance(name, str) and is_mopac(name):
            chosen.append(entry)
    return chosen


class MopacGrants:
    """MOPAC's 360Giving datasets, as registered with the 360Giving Data Registry."""

    name = "mopac-grants"
    description = "MOPAC grants via the 360Giving Data Registry (data.json, publisher files as-is)"
    keys = (KEY_PREFIX + "<identifier>",)

    def discover(self, client: Client) -> Found:
        """Select MOPAC's registry entries.

        Raises
        ------
        FetchError
            The registry is not a list, no entry's publisher is MOPAC, or an entry has
            no identifier or no distribution with a downloadURL.
        """
        entries = _entries(client.get_json(REGISTRY_URL))
        if not entries:
            raise NotPublishedError(
                f"{REGISTRY_URL}: no dataset whose publisher is the {PUBLISHER} (MOPAC); "
                "it may not publish to 360Giving, or may have withdrawn its data",
                url=REGISTRY_URL,
            )
        files = []
        for entry in entries:
            identifier = entry.get("identifier")
            distributions = entry.get("distribution")
            urls = [
                d["downloadURL"]
                for d in (distributions if isinstance(distributions, list) else [])
                if isinstance(d, dict)
                and isinstance(d.get("downloadURL"), str)
                and d["downloadURL"]
            ]
            if not isinstance(identifier, str) or not identifier or not urls:
                raise FetchError(
                    f"{REGISTRY_URL}: MOPAC entry {entry.get('title')!r} lacks an identifier or "
                    "a distribution downloadURL",
                    url=REGISTRY_URL,
                )
            licence = str(entry.get("license_name") or entry.get("license") or "not stated")
            publisher = entry["publisher"]
            for n, url in enumerate(urls, start=1):
                files.append(
                    {
                        "identifier": identifier,
                        "part": n,
                        "modified": entry.get("modified"),
                        "downloadURL": client.official(url),
                        "title": entry.get("title"),
                        "licence": licence,
                        "license": entry.get("license"),
                        "publisher": publisher.get("name"),
                        "prefix": publisher.get("prefix"),
                    }
                )
        files.sort(key=lambda f: (f["identifier"], f["part"]))
        licences = sorted({f["licence"] for f in files})
        publishers = sorted({str(f["publisher"]) for f in files})
        modified = sorted(str(f["modified"]) for f in files if f["modified"])
        return Found(
            source=self.name,
            version={
                "entries": [
                    {
                        "identifier": f["identifier"],
                        "modified": f["modified"],
                        "downloadURL": f["downloadURL"],
                    }
                    for f in files
                ]
            },
            label=f"360Giving data of {', '.join(publishers)} ({len(files)} file(s))",
            vintage=modified[-1][:10] if modified else "unknown",
            licence="; ".join(licences),
            attribution="; ".join(
                f"{f['publisher']}, {f['title'] or f['identifier']}, {f['licence']}, via the "
                "360Giving Data Registry"
                for f in files
            ),
            url=REGISTRY_URL,
            details={"files": files},
        )

    def fetch(self, client: Client, found: Found, workdir: Path) -> list[FetchedFile]:
        """Download each MOPAC file as published and count its grants.

        Raises
        ------
        FetchError
            A failed download, a JSON file that is not a 360Giving package, or a
            spreadsheet that cannot be read.
        """
        if found.source != self.name:
            raise FetchError(f"{self.name}: cannot fetch a release found by {found.source}")
        results = []
        with scratch_dir(workdir) as scratch, Staging(workdir) as staging:
            for n, spec in enumerate(found.details["files"]):
                url = spec["downloadURL"]
                got = client.download(url, scratch / f"grants-{n}")
                with got.path.open("rb") as handle:
                    first = handle.read(512)
                fmt = detect_format(first, got.content_type, url)
                rows = _count_grants(got.path, fmt, url)
                slug = _slug(spec["identifier"]) + (f"-{spec['part']}" if spec["part"] > 1 else "")
                key = (
                    KEY_PREFIX
                    + spec["identifier"]
                    + (f":{spec['part']}" if spec["part"] > 1 else "")
                )
                relative = f"grants/mopac_360giving_{slug}.{fmt}"
                target = staging.path(relative)
                os.replace(got.path, target)
                results.append(
                    FetchedFile(
                        key=key,
                        path=relative,
                        rows=rows,
                        sha256=sha256_file(target),
                        release=f"{spec['publisher']}: {spec['title'] or spec['identifier']}",
                        vintage=str(spec["modified"] or found.vintage),
                        licence=spec["licence"],
                        attribution=(
                            f"{spec['publisher']}, {spec['title'] or spec['identifier']}, "
                            f"{spec['licence']}, via the 360Giving Data Registry"
                        ),
                        url=url,
                    )
                )
        return results


def _count_grants(path: Path, fmt: str, url: str) -> int:
    """Grants in a 360Giving file; -1 for a legacy .xls (not readable here)."""
    if fmt == "json":
        try:
            package = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise FetchError(f"{url}: not valid JSON ({exc})", url=url) from exc
        grants = package.get("grants") if isinstance(package, dict) else None
        if not isinstance(grants, list):
            raise FetchError(f"{url}: not a 360Giving package (no 'grants' list)", url=url)
        return len(grants)
    if fmt == "xlsx":
        return _count_xlsx(path, url)
    if fmt == "xls":
        return -1
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    rows = [r for r in csv_rows(io.StringIO(text), url, url) if any(c.strip() for c in r)]
    return max(len(rows) - 1, 0)


def _count_xlsx(path: Path, url: str) -> int:
    import zipfile

    from openpyxl import load_workbook  # lazy: only for spreadsheet publishers
    from openpyxl.utils.exceptions import InvalidFileException

    with path.open("rb") as handle:  # a handle: openpyxl would check the file's extension
        try:
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
            raise FetchError(f"{url}: not a readable XLSX workbook ({exc})", url=url) from exc
        try:
            sheets = {ws.title.strip().lower(): ws for ws in workbook.worksheets}
            sheet = sheets.get("grants") or workbook.worksheets[0]
            rows = sum(
                1
                for row in sheet.iter_rows(values_only=True)
                if any(v is not None and str(v).strip() for v in row)
            )
        finally:
            workbook.close()
    return max(rows - 1, 0)


SOURCE = MopacGrants()

"""MPS borough-level recorded crime, most recent 24 months (London Datastore).

Discover (DATA-SOURCES.md §6): the dataset ``exy3m`` ("MPS Recorded Crime: Geographic
Breakdown"); its CSV resource whose title mentions "Borough" and "most recent 24 months"
and not "Historical", "Ward" or "LSOA", newest by ``temporal_coverage_to`` then
``check_timestamp``. The resource URL changes with every monthly release. The file's
first bytes are read to check its header and learn its month columns (``YYYYMM``): the
newest month is the vintage and the month range is part of the version.

Fetch: the CSV is checked (a borough column ``BOCU``/``BoroughName``/
``LookUp_BoroughName``, a major-category column ``Group``/``MajorText``, month columns
``^\\d{6}$`` holding counts) and written as downloaded to
``crime/mps_borough_level_crime.csv``.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geodata.errors import FetchError
from geodata.fetch import datapress
from geodata.fetch.base import (
    OGL_V3,
    FetchedFile,
    Found,
    Staging,
    column_index,
    csv_rows,
    scratch_dir,
)
from geodata.sources import sha256_file

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = ["BoroughCrime", "SOURCE", "DATASET", "OUTPUT_PATH", "check_header"]

DATASET = "exy3m"
OUTPUT_PATH = "crime/mps_borough_level_crime.csv"
BOROUGH_COLUMNS = (r"BOCU", r"BoroughName", r"LookUp_BoroughName", r"Borough")
CATEGORY_COLUMNS = (r"Group", r"MajorText", r"Major\s*Category")
ATTRIBUTION = (
    "Metropolitan Police Service recorded crime, via the London Datastore "
    "(data.london.gov.uk), MOPAC/GLA"
)
_MONTH = re.compile(r"\d{6}")
_WANTED_TITLE = (
    re.compile(r"borough", re.IGNORECASE),
    re.compile(r"most\s+recent\s+24\s+months", re.IGNORECASE),
)
_UNWANTED_TITLE = re.compile(r"histor|ward|lsoa", re.IGNORECASE)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _month_label(yyyymm: str) -> str:
    return f"{yyyymm[:4]}-{yyyymm[4:]}"


def check_header(header: list[str], where: str) -> list[str]:
    """Check a crime CSV header; answer its month columns, oldest first.

    Raises
    ------
    FetchError
        No borough column, no major-category column, no ``YYYYMM`` month column, or a
        month column that is not a real month; the message names the columns found.
    """
    names = [h.strip().lstrip("\ufeff") for h in header]
    borough = column_index(names, BOROUGH_COLUMNS, what="borough", where=where)
    category = column_index(names, CATEGORY_COLUMNS, what="major category", where=where)
    months = [n for n in names if _MONTH.fullmatch(n)]
    bad = [m for m in months if not 1 <= int(m[4:]) <= 12]
    problems = []
    if borough is None:
        problems.append("a borough column (BOCU, BoroughName or LookUp_BoroughName)")
    if category is None:
        problems.append("a major-category column (Group or MajorText)")
    if not months:
        problems.append("month columns named YYYYMM")
    if bad:
        problems.append(f"real months (not {bad[:3]})")
    if problems:
        raise FetchError(
            f"{where}: the crime CSV header lacks {'; '.join(problems)}; columns found: "
            f"{', '.join(names[:40])}",
            url=where,
        )
    return sorted(months)


class BoroughCrime:
    """MPS recorded crime by borough and offence group, the most recent 24 months."""

    name = "crime"
    description = (
        "Metropolitan Police borough-level recorded crime via the London Datastore (DataPress) API"
    )
    keys = ("crime",)

    def discover(self, client: Client) -> Found:
        """Pick the newest borough 24-month CSV resource and read its header.

        Raises
        ------
        FetchError
            No such resource, or its header is not the crime layout.
        """
        where = datapress.dataset_url(DATASET)
        answer, resources = datapress.dataset(client, DATASET)
        matches = [
            (rid, r)
            for rid, r in resources.items()
            if datapress.is_format(r, "csv")
            and all(p.search(str(r.get("title", ""))) for p in _WANTED_TITLE)
            and not _UNWANTED_TITLE.search(str(r.get("title", "")))
        ]
        if not matches:
            titles = [str(r.get("title")) for r in resources.values()]
            raise FetchError(
                f"{where}: no CSV resource titled Borough … most recent 24 months among {titles}",
                url=where,
            )
        matches.sort(
            key=lambda m: (
                str(m[1].get("temporal_coverage_to") or ""),
                str(m[1].get("check_timestamp") or ""),
            ),
            reverse=True,
        )
        rid, resource = matches[0]
        url = client.official(resource["url"])
        head = _decode(client.get_prefix(url, 16384))
        header = next(csv_rows(io.StringIO(head.splitlines()[0] if head else ""), url, url), [])
        months = check_header(header, url)
        version = datapress.resource_version(rid, resource, url)
        version["months"] = [months[0], months[-1]]
        return Found(
            source=self.name,
            version=version,
            label=(
                f"MPS Borough Level Crime (most recent 24 months), "
                f"{_month_label(months[0])} to {_month_label(months[-1])}"
            ),
            vintage=_month_label(months[-1]),
            licence=datapress.licence_of(answer) or OGL_V3,
            attribution=ATTRIBUTION,
            url=where,
            details={
                "resource": rid,
                "download_url": url,
                "title": resource.get("title"),
                "months": months,
            },
        )

    def fetch(self, client: Client, found: Found, workdir: Path) -> list[FetchedFile]:
        """Download the CSV, check it, write it as downloaded.

        Raises
        ------
        FetchError
            A failed download, a changed header, non-numeric counts, no data rows, or a
            file whose months differ from the ones discovered (published meanwhile).
        """
        if found.source != self.name:
            raise FetchError(f"{self.name}: cannot fetch a release found by {found.source}")
        url = found.details["download_url"]
        with scratch_dir(workdir) as scratch, Staging(workdir) as staging:
            raw = scratch / "crime.csv"
            client.download(url, raw)
            rows = _check_file(raw, url, found.details.get("months"))
            target = staging.path(OUTPUT_PATH)
            os.replace(raw, target)
            digest = sha256_file(target)
        return [found.file("crime", OUTPUT_PATH, rows=rows, sha256=digest, url=url)]


def _check_file(path: Path, url: str, expected_months: Any) -> int:
    reader = csv_rows(io.StringIO(_decode(path.read_bytes())), url, url)
    header = next(reader, [])
    months = check_header(header, url)
    if expected_months and months != list(expected_months):
        raise FetchError(
            f"{url}: the file's months ({months[0]}..{months[-1]}) differ from those found "
            f"at discovery ({expected_months[0]}..{expected_months[-1]}); a new release was "
            "published meanwhile: discover again",
            url=url,
        )
    names = [h.strip().lstrip("\ufeff") for h in header]
    positions = [names.index(m) for m in months]
    rows = 0
    for n, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise FetchError(
                f"{url}: line {n} has {len(row)} cells, the header {len(header)}", url=url
            )
        for i in positions:
            cell = row[i].strip()
            if cell and not re.fullmatch(r"-?\d+", cell):
                raise FetchError(
                    f"{url}: line {n}, month {names[i]}: {cell!r} is not a count", url=url
                )
        rows += 1
    if rows == 0:
        raise FetchError(f"{url}: the crime CSV has a header but no rows", url=url)
    return rows


SOURCE = BoroughCrime()

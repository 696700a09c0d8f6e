"""Generate a large, realistic directory spreadsheet in the import template.

Rows look like what borough and MOPAC officers type: borough names in many styles, BCUs,
"pan-London", ward codes, amounts like "£45k" / "1.2m" / "12,500", UK and ISO dates, real
London postcodes in any case. Deterministic for a seed.

Usage::

    .venv/bin/python scripts/make_directory.py OUT.csv|OUT.xlsx [--services 10000] [--seed 1]
        [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from directory.ingest.context import themes  # noqa: E402
from directory.ingest.readers import write_table  # noqa: E402
from directory.ingest.template import HEADINGS  # noqa: E402

POSTCODES = Path("postcodes") / "london_postcodes_codepoint_open_2025_10.csv"
BOROUGH_FORMS = [
    "{name}", "LB {name}", "London Borough of {name}", "{name} Council", "{code}", "{upper}",
]  # fmt: skip
BCUS = ["Central West BCU", "North East BCU", "South BCU", "East Area BCU", "Central South BCU"]
FUNDERS = [("MOPAC", "LCPF"), ("MOPAC", "VRU"), ("MOPAC", "LCPF co-commissioning"),
           ("GLA", "Young Londoners Fund"), ("MOPAC", "Victims services"), ("MOPAC", "SNB")]  # fmt: skip
WORDS = ["Safer", "Youth", "Bridge", "Haven", "Pathways", "Streets", "Futures", "Voices",
         "Roots", "Horizon", "Step", "Circle", "Unity", "Spark", "Compass", "Beacon"]  # fmt: skip
KINDS = ["mentoring", "outreach", "advocacy", "diversion", "support", "exit", "helpline"]


def boroughs(data_dir: Path) -> list[tuple[str, str]]:
    path = data_dir / "reference" / "london_borough_population_2022.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    code_key = next(k for k in rows[0] if "code" in k.lower())
    name_key = next(k for k in rows[0] if "name" in k.lower())
    return [(r[code_key], r[name_key]) for r in rows if r[code_key].startswith("E09")]


def postcodes(data_dir: Path, n: int, rng: random.Random) -> list[str]:
    with (data_dir / POSTCODES).open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        column = next(i for i, h in enumerate(header) if "postcode" in h.lower())
        every = [row[column] for row in reader]
    return rng.sample(every, n)


def amount_text(pounds: int, rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0 and pounds >= 100_000:
        return f"{pounds / 1_000_000:.2f}m".replace(".00m", "m")
    if style == 1 and pounds % 1000 == 0:
        return f"£{pounds // 1000}k"
    if style == 2:
        return f"£{pounds:,}"
    return str(pounds)


def date_text(day: date, rng: random.Random) -> str:
    return day.isoformat() if rng.random() < 0.5 else day.strftime("%d/%m/%Y")


def generate(n: int, seed: int, data_dir: Path) -> list[list[Any]]:
    rng = random.Random(seed)
    areas = boroughs(data_dir)
    theme_names = [t.name for t in themes()]
    sites = postcodes(data_dir, n, rng)
    organisations = [
        f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(['Trust', 'CIC', 'Project', 'Foundation'])} {i}"
        for i in range(max(1, n // 5))
    ]
    rows = []
    for i in range(n):
        row = dict.fromkeys(HEADINGS, "")
        org = organisations[i % len(organisations)]
        code, name = rng.choice(areas)
        pick = rng.random()
        if pick < 0.1:
            coverage = rng.choice(["pan-London", "London-wide"])
        elif pick < 0.2:
            coverage = rng.choice(BCUS)
        elif pick < 0.3:
            other = rng.choice(areas)[1]
            coverage = f"{name}; {other}"
        else:
            coverage = rng.choice(BOROUGH_FORMS).format(name=name, code=code, upper=name.upper())
        start = date(2021, 4, 1) + timedelta(days=rng.randrange(0, 1500))
        months = rng.choice([6, 12, 12, 18, 24, 36, 48])
        funder, programme = rng.choice(FUNDERS)
        row.update({
            "Service ref": f"GEN-{i:05d}",
            "Service name": f"{rng.choice(WORDS)} {rng.choice(KINDS)} {i}",
            "Description": f"Generated service {i} working on {rng.choice(theme_names).lower()}.",
            "Status": rng.choice(["active"] * 9 + ["inactive"]),
            "Themes": "; ".join(rng.sample(theme_names, rng.randint(1, 3))),
            "Organisation name": org,
            "Organisation type": rng.choice(["charity", "voluntary", "CIC", "council"]),
            "Coverage": coverage,
            "Site name": f"{org} site" if rng.random() < 0.7 else "",
            "Site postcode": sites[i].lower() if rng.random() < 0.3 else sites[i],
            "Ages": rng.choice(["", "11-25", "18+", "under 18", "10 to 17"]),
            "Email": f"hello{i}@example.org",
            "Last verified": date_text(date(2025, 1, 1) + timedelta(days=rng.randrange(0, 600)), rng),
            "Funder": funder,
            "Programme": programme,
            "Amount": amount_text(rng.randrange(5, 400) * 1000, rng),
            "Start date": date_text(start, rng),
            "End date": date_text(start + timedelta(days=round(months * 30.44) - 1), rng),
            "Demo": "yes",
        })  # fmt: skip
        if not row["Site name"]:
            row["Site postcode"] = ""
        rows.append([row[h] for h in HEADINGS])
    return rows


def write(path: Path, n: int, seed: int, data_dir: Path) -> None:
    fmt = path.suffix.lower().lstrip(".")
    write_table(path, list(HEADINGS), generate(n, seed, data_dir), format=fmt)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    write(args.out, args.services, args.seed, args.data_dir)
    print(f"wrote {args.services} services to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The project's own facts tables, as data files beside this module: the theme taxonomy
(``themes.csv``), the programmes (``programmes.csv``) and the allocation formulas
(``formulas.toml``). See ``README.md`` here for their sources."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent


def org_id_key(ref: str) -> str:
    """An org-id compared loosely: case and spaces ignored (" gb-gor-pc390" is GB-GOR-PC390).
    organisations.csv's identifiers and community_safety.toml's funders are compared so."""
    return "".join(ref.split()).upper()

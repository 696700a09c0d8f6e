"""The project's own facts tables, as data files beside this module: the theme taxonomy
(``themes.csv``), the programmes (``programmes.csv``) and the allocation formulas
(``formulas.toml``). See ``README.md`` here for their sources."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

"""The runbooks this package ships, in the order an operator runs them."""

from pathlib import Path

# The notebooks are package data, beside this module: a pip-installed lumiku-ops has them.
RUNBOOKS_DIR = Path(__file__).resolve().parent
RUNBOOKS = (
    "01_diagnose_500s",
    "02_create_migration",
    "03_apply_migration",
    "04_verify_endpoints",
)

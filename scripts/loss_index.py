"""Regenerate losscli/losses/_index.py: every loss name and alias with the family module defining it.

python scripts/loss_index.py          # rewrite the file
python scripts/loss_index.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from losscli.losses import FAMILY_MODULES  # noqa: E402

TARGET = Path(__file__).resolve().parent.parent / "losscli" / "losses" / "_index.py"
HEADER = '''"""Which family module defines each loss name and alias, so that ``losses.get`` imports only that
module (a small command does not build all eleven families).  Checked against the modules by
``tests/test_losses.py``; after adding a loss, regenerate with ``python scripts/loss_index.py``.
"""

'''


def render() -> str:
    index: dict[str, str] = {}
    for module in FAMILY_MODULES:
        for spec in importlib.import_module(f"losscli.losses.{module}").SPECS:
            for key in (spec.name, *spec.aliases):
                index[key] = module
    body = "".join(f'    "{key}": "{module}",\n' for key, module in index.items())
    return HEADER + "MODULES = {\n" + body + "}\n"


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if TARGET.read_text() == text else 1)
    TARGET.write_text(text)


if __name__ == "__main__":
    main()

"""``python -m composer.supervisor PROJECT_DIR``: the supervisor process of one project."""

from __future__ import annotations

import sys

from composer.supervisor.server import main

if __name__ == "__main__":
    main(sys.argv[1:])

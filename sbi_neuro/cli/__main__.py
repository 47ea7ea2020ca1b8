"""``python -m sbi_neuro.cli``: the same as the ``sbi-neuro`` command."""

import sys

from sbi_neuro.cli import main

sys.exit(main())

"""CLI entry: ``python -m clara_trainer.testing.make_tiny_model <out_dir>``."""

import sys

from clara_trainer.testing.tiny_model import main

if __name__ == "__main__":
    sys.exit(main())

"""Run the trainer from a checkout without installing it: ``python apps/trainer/train.py --config job.json``.

Equivalent to ``PYTHONPATH=apps/trainer python -m clara_trainer --config job.json``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clara_trainer.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

"""``python -m clara_trainer --config <run>/job.json``"""

import sys

from clara_trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())

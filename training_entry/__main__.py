import sys

from training_entry.cli import main

sys.exit(main())

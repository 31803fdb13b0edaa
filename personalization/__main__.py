import sys

from personalization.cli import main

sys.exit(main())

import sys

from lumiku_ops.cli import main

sys.exit(main())

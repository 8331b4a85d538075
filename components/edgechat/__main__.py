import sys

from edgechat.cli import main

sys.exit(main())

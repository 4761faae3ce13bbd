"""`python -m bench --one-size N --phase build|serve --workdir W --out PATH`: one phase of
one size, run by run_size in a fresh interpreter."""

import sys

from .latency import main

sys.exit(main())

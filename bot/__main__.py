"""`python -m bot`: the entry point. The command line is a front end, so it lives in adapters."""

from adapters.cli import main

raise SystemExit(main())

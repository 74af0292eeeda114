"""`python -m serve`: what `make run` starts."""

from serve.launcher import main

raise SystemExit(main())

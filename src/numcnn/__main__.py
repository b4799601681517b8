"""`python -m numcnn`: the numcnn command line (see numcnn.cli.main)."""

from numcnn.cli.main import main

raise SystemExit(main())

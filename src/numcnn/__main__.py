"""`python -m numcnn`: the numcnn command line (see numcnn.train.cli)."""

from numcnn.train.cli import main

raise SystemExit(main())

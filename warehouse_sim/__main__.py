"""``python -m warehouse_sim``: the same entry point as the ``warehouse-sim`` command."""

from warehouse_sim.cli import main

raise SystemExit(main())

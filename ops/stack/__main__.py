from ops.stack.cli import main

raise SystemExit(main())

from lakehouse.stack.cli import main

raise SystemExit(main())

from gafn_lib.cli import main

raise SystemExit(main())

from pipeline.report.cli import main

raise SystemExit(main())

from familycard.cli import main

raise SystemExit(main())

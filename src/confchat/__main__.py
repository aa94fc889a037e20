"""``python -m confchat``: the same as the ``confchat`` command."""

from confchat.cli import main

raise SystemExit(main())

"""``python -m smartcity`` is the ``smartcity`` command."""

from smartcity.cli import main

main()

"""The command line: the station (no subcommand) and the scripted commands.

Names, flags, JSON keys and exit codes are a public contract: extend, never rename.
Exit codes: 0 every scan ok/already (or the command did what was asked), 1 a scan was rejected,
unknown or conflict (or `show` found nothing), 2 a usage, configuration or database error.

Each module holds the commands of one concern and reaches the database only through the
Station door (`CliState.station`); every line goes out through `common.say`/`fail`.
To add a command: write it in the module of its concern (or a new one) and list it in
`main.lazy` below (a `doc` command: in `doc.lazy`, documents.py).
"""

from __future__ import annotations

from scanstation.cli.common import fail
from scanstation.cli.root import main

__all__ = ["fail", "main"]

# Each command and where it is written, imported only when named on the command line (the
# station itself, with no command, needs none of them).
main.lazy = {
    "db": "scanstation.cli.admin:db",
    "site": "scanstation.cli.admin:site",
    "item": "scanstation.cli.admin:item",
    "generate": "scanstation.cli.admin:generate",
    "import": "scanstation.cli.admin:import_",
    "demo": "scanstation.cli.admin:demo",
    "doc": "scanstation.cli.documents:doc",
    "scan": "scanstation.cli.scanning:scan",
    "void": "scanstation.cli.scanning:void",
    "journal": "scanstation.cli.journal:journal",
    "show": "scanstation.cli.reading:show",
    "export": "scanstation.cli.reading:export",
    "report": "scanstation.cli.reports:report",
    "decode": "scanstation.cli.decode:decode",
    "serve": "scanstation.cli_serve:serve",
    "kiosk": "scanstation.cli.kiosk:kiosk",
    "user": "scanstation.cli.people:user",
    "token": "scanstation.cli.people:token",
    "keys": "scanstation.cli.keys:keys",
    "verify": "scanstation.cli.keys:verify",
    "labels": "scanstation.cli.labels:labels",
}

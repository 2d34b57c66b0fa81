"""The command line: the station (no subcommand) and the scripted commands.

Names, flags, JSON keys and exit codes are a public contract: extend, never rename.
Exit codes: 0 every scan ok/already (or the command did what was asked), 1 a scan was rejected,
unknown or conflict (or `show` found nothing), 2 a usage, configuration or database error.

Each module holds the commands of one concern and reaches the database only through the
Station door (`CliState.station`); every line goes out through `common.say`/`fail`.
To add a command: write it in the module of its concern (or a new one) and list it in
COMMANDS below.
"""

from __future__ import annotations

import click

from scanstation.cli.admin import db, demo, generate, import_, item, site
from scanstation.cli.common import fail
from scanstation.cli.decode import decode
from scanstation.cli.document_lists import doc_import, doc_list
from scanstation.cli.documents import doc
from scanstation.cli.journal import journal
from scanstation.cli.keys import keys, verify
from scanstation.cli.kiosk import kiosk
from scanstation.cli.labels import doc_print, labels
from scanstation.cli.people import token, user
from scanstation.cli.reading import export, show
from scanstation.cli.reports import report
from scanstation.cli.root import main
from scanstation.cli.scanning import scan, void
from scanstation.cli_serve import serve

__all__ = ["COMMANDS", "fail", "main"]

# Commands of the `doc` group written in a module of their own (imported for registering).
DOC_COMMANDS = (doc_list, doc_import)

COMMANDS: tuple[click.Command, ...] = (
    db,
    site,
    item,
    generate,
    import_,
    doc,
    scan,
    void,
    journal,
    show,
    export,
    report,
    demo,
    decode,
    serve,
    kiosk,
    user,
    token,
    keys,
    verify,
    labels,
)

doc.add_command(doc_print)

for _command in COMMANDS:
    main.add_command(_command)

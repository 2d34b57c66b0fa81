"""The station in a browser: `scanstation serve` runs one station process per browser tab
(textual-serve), on a server that binds to this machine alone unless told otherwise."""

"""Command handlers, one module per family. Each handler has the signature
``handle_x(server, client, msg) -> None`` and replies through the server's
output helpers; the command table in :mod:`confchat.core.commands` has already
checked registration and the parameter count."""

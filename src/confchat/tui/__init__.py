"""confchat-tui: the bundled terminal client for moderators, guests and admins.

Layers, as in the server: :mod:`.lines` reads the moderation extension's
lines, :mod:`.model` is the state of one conference fed with parsed
messages, :mod:`.session` drives the protocol (registration, loading, paging,
reconnection, actions) and is sans-IO; :mod:`.net` is the asyncio connection,
:mod:`.app` the Textual interface over them, :mod:`.cli` the command line.
The IRC codec is the server's own (:mod:`confchat.proto`).
"""

"""Moderation, pure: the per-conference queue, conferences, roles and audit.

Like ``proto`` and ``core``, nothing here knows about sockets or storage.
"""

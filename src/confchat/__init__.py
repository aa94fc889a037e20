"""confchat: a self-hosted IRC chat server for moderated live events."""

__version__ = "0.1.0"

"""The trio shell: sockets in and out of the sans-IO core, nothing more."""

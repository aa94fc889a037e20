"""Storage: the shell's durable side. ``sqlite`` holds the tables and runs in
a worker thread; ``writer`` is the trio task that commits the core's journal."""

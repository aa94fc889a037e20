"""The web client: pages for visitors, moderators and guests, served on the
HTTP port. Static ES modules, no build step; the server renders each page's
shell with the branding and language, and the page speaks IRC over the
WebSocket like any other client."""

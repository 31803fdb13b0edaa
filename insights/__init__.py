"""The operators' insights page: a small web server, behind an operator token, that renders
the personalization library's overview with charts drawn on the server (matplotlib, SVG)."""

"""HTML pages rendered with Jinja2."""

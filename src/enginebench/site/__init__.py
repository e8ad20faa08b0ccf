"""The published site: committed results rendered through Jinja2 templates and mkdocs-material."""

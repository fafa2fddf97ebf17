"""Images, their block maps, pinned host keys and deployments over SSH (DESIGN section 5)."""

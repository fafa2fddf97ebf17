"""Everything printed: asset-tag labels, handout sheets, and the shared HTML-to-PDF renderer."""

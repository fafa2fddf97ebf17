"""Reports for funders, donors and open data (DESIGN section 8): SQL aggregates, then renderers."""

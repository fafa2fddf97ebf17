"""Wiping, sanitization records and certificates, disk images and deployment over SSH."""

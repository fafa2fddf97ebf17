"""Borrowers, organisations, programmes, charters, loans, returns, repairs and mediation."""

"""Suspension-remobilisation (décret 2025-478): one ``SanctionCase`` per breach."""

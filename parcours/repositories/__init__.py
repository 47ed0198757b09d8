"""All SQL lives here: one repository per aggregate, taking the caller's session."""

"""The carnet de bord: one file per person shared by everyone who follows them (situation,
diagnosis, contract and plan, notes, appointments, documents, consents), the person's own
rights, erasure and retention."""

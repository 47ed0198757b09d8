"""A person's carnet de bord as pages, split by tab group: reading a tab and running a journey
action (``tabs``), the situation (``situation``), diagnosis, contract and plan (``contract``),
notes, appointments and documents (``notes``), the consents to share and how they were given
(``consents``, its links from refusals: ``consent_links``), the person's own space (``me``)
and the administrators' erasure of a carnet (``erasure``). ``view`` renders a tab and runs its
forms; ``router`` gathers them all."""

"""Access as pages: signing in and out, invitation and ProConnect (``sign_in``), and the
administration console of a département (``admin``); ``router`` gathers them."""

"""« À traiter »: each agent's inbox, made from the workflows' events, and its e-mail."""

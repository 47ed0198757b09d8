"""SMS: the person's mobile number checked and written E.164, the outbox of SMS (held during
quiet hours, sent once through the provider, delivery status recorded)."""

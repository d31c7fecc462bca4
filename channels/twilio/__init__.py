"""Twilio SMS channel: signed webhooks in, REST API out, status callbacks."""

"""Fake WeChat and Twilio servers on 127.0.0.1, and platform-signed requests."""

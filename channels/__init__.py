"""Protocol adapters for the chat channels (WeChat Official Account, Twilio SMS).

They verify the platform's signature, turn a platform message into one internal shape
(`channels.messages`), hand it to a `ConversationGateway` the app implements, and render
the answer back into the platform's format. They know nothing of claims.
"""

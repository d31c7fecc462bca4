"""WeChat Official Account (公众号) channel: callbacks, passive replies, API client."""

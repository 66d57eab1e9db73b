"""RQ job functions and the worker entry point. Imports proxyapp; proxyapp never imports this."""

"""The web layer: HTTP only. The resources (one blueprint each: parse, call one use case,
serialise), the public page, problem+json and caching, request logging and the per-process
state the resources read. Nothing below this package imports it."""

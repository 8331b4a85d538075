"""Lambda entry points.  Each module has ``handler(event, context)`` for AWS and
``handle(event, deps)`` for the local cloud and tests; the rules are the core's."""

"""The local cloud (``edgechat cloud up``): the template's rules and handlers
against stand-ins (shared/DESIGN.md, "Local stand-ins")."""

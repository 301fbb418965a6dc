"""Short-lived developer GPU stacks (``paddock ephemeral``): pure logic, no Pulumi.

Modules: :mod:`ttl` (TTL parsing, expiry), :mod:`naming` (stack names), :mod:`metadata` (tags and
config that mark a stack ephemeral), :mod:`cost` ($/hour, so far, total), :mod:`planning` (what ``up``
will create), :mod:`lifecycle` (up/list/extend/down over a Workspace), :mod:`reaper` (destroy expired
stacks), :mod:`workspace` (the protocol ``stacks/automation.py`` implements), :mod:`errors`.
"""

"""``manage.py demo``: the whole service on this machine against a local sandbox."""

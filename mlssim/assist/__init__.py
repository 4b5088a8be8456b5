"""Server assistance built from RFC 9420 pieces, outside the RFC itself.

``split_commit``: split commits (one download per member); ``pre``: the proxy re-encryption
primitive (Umbral and its model twin); ``pre_store``: the ``pre`` fan-out strategy's store of
epoch PRE keys at the DS. The MLS core (``mlssim.mls``) never imports this package; these
modules use the core's public pieces (``docs/bandwidth.md`` says what each follows).
"""

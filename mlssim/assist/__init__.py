"""Server assistance built from RFC 9420 pieces, outside the RFC itself.

``split_commit``: split commits (one download per member), with their wire format in
``split_format`` and the Merkle tree over their ciphertexts in ``split_merkle``; ``pre``: the
proxy re-encryption primitive (interface in ``pre_scheme``, Umbral in ``pre_umbral``, its model
twin in ``pre_model``); ``pre_store``: the ``pre`` fan-out strategy's store of epoch PRE keys
at the DS. The MLS core (``mlssim.mls``) never imports this package; these modules use the
core's public pieces (``docs/bandwidth.md`` says what each follows).
"""

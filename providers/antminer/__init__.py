"""Bitmain Antminer S9 / S9 Hydro: web CGI (HTTP digest) and RPC (TCP 4028).

Why a package of its own: codec, transport, provider and simulator for this
family stay together and out of the engine.
"""

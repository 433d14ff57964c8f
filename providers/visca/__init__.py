"""AVer PTZ cameras: VISCA over RS-232 and UDP, Pelco-D/P, and a camera simulator.

Why a package of small modules: the byte formats (``codec``/``commands``,
``pelco``, ``ipframe``) are sans-I/O and shared by the client and the
simulator; ``matrix`` holds the seed's per-model support notes as data;
``transport``/``transport_udp`` move bytes (one lock per daisy chain, resend
with the same sequence number over UDP); ``camera`` and ``provider`` turn
settings into commands; ``sim_*``/``simulator``/``simhost`` simulate cameras.
"""

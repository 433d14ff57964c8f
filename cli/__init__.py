"""The ``fleetform`` command line (typer).

Why a separate room: commands parse options, pick a view once and call the
engine; no business logic lives here.
"""

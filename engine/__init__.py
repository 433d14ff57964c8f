"""fleetform: declarative infrastructure-as-code for physical devices.

Why this package exists: users declare the desired state of miners and cameras
in YAML; fleetform reads each live device, plans the difference, applies it,
verifies it and records state. See ``README.md`` for the tour.
"""

__version__ = "0.1.0"

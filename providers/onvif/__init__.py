"""Ajax TurretCam over ONVIF: manifest models, a sans-I/O SOAP/auth core, a client and a simulator.

Why a package of its own: ONVIF is SOAP 1.2 with two authentication schemes,
three services (device, Media2, Imaging) and vendor quirks; keeping the
envelope code, the auth maths, the client, the manifest mapping and the
simulated camera in separate small modules lets each be tested on its own and
lets the simulator share the same XML helpers the client uses.
"""

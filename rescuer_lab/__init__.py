"""The Rescuer two-site lab: real OpenStack services on one machine.

This package is self-contained on purpose: it imports nothing from the
rest of Rescuer, so the lab can be used to try any DR tooling, and a bug in
Rescuer can never hide behind a bug in the lab.
"""

"""Heat plugins the lab loads beside Rescuer's own (lab-only fixes)."""

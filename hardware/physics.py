"""Physical constants the control law, the safety supervisor and the simulation share."""

WATER_J_PER_L_K = 4186.0  # water's heat capacity, 1 kg per litre; 5 L by 18 C is 377 kJ (DESIGN.md 6)

"""Dispatch, the grid (网格): locates each case on the grid, splits it into tasks for
those who must act together (协同办理), runs SLA timers and escalation, closes cases."""

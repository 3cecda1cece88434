"""Policing (社区警务): community police rooms on the grid."""

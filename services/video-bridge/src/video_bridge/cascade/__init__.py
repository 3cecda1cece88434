"""GB/T 28181 inter-platform cascade: the bridge reports upward to upper platforms."""

"""Video bridge (雪亮工程): GB/T 28181 signalling to events and evidence."""

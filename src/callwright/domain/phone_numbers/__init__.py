"""Phone numbers: carrier numbers that ring an assistant."""

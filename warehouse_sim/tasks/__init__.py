"""Tasks: turn actions into commands for the sim and operations layers; compute rewards and episode outcomes."""

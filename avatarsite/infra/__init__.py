"""What a process shares: its Redis clients, the channel layer, and tasks sent by name."""

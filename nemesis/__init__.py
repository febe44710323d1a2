"""Faults and their schedules: partition, kill, pause, clock, netem."""

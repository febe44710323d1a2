"""Where nodes live and how we reach them: docker containers, local processes, ssh hosts, simulation."""

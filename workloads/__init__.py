"""Client workloads (register, kv, set, append) and the checkers each needs."""

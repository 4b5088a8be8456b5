"""The simulated world on simpy: network, providers (DS + AS), clients, workloads, metrics."""

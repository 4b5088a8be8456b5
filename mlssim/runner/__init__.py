"""Many runs: sweeps over a grid of scenario keys and replications, on any executor."""

"""trajreg: companion code for 'On the Trajectory Regularity of ODE-based Diffusion Sampling'."""

__version__ = "0.1.0"

"""Execution modes on compiled circuits: `noisy` (density matrix of the compiled circuit with the
target's calibrated errors) and `backend` (qiskit-aer), chosen through one table (`modes`)."""

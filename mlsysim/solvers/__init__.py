"""Analytical solvers. Pure functions over loaded records and cited assumptions;
they hold no literature numbers of their own."""

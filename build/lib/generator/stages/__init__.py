"""Pipeline stages. Each asks the model through the repair loop and gates what comes back."""

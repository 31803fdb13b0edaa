"""Local stack runner: embedded services, environment, training and the Rasa processes."""

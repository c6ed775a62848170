"""HTTP building blocks every service's app shares."""

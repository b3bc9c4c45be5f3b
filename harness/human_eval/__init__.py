"""Human evaluation: studies, collected ratings, and adapters for published ratings."""

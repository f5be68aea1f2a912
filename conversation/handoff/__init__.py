"""Hand-off to a person: when the avatar passes a customer on, and what it says then."""

"""What people read: each report's query, render and template together."""

"""Time: audit periods and their labels, the working-day calendar, and the local clock."""

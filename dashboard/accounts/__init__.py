"""Who is asking and what they may do: roles, passwords, sessions, CSRF, login throttling."""

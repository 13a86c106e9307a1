"""The read side for people: server-rendered HTML pages, one module per page."""

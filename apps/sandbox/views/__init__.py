"""One module per emulated provider, plus the staff index page."""

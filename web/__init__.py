"""The Litestar application, its pages, its JSON API, authentication and the command line."""

"""HTTP routes, grouped like the API: auth, company, tasking, the sandbox's extras, files."""

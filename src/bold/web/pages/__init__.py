"""The pages, one module per role's work; each route calls actions only."""

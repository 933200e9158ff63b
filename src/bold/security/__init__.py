"""Protection of what a workspace stores: owner-only files and folders."""

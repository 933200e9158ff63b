"""HTML reports and charts (Altair, rendered to inline SVG so reports work offline)."""

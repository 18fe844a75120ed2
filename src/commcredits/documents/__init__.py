"""Documents the service issues, made once and shown alike on the web, by the API and by the CLI
(receipts as HTML and tagged PDF)."""

"""The live dashboard's page, script, style and vendored chart library (uPlot, MIT), in
``static/``; ``hub.http_api`` serves them. Nothing here is fetched from the internet."""

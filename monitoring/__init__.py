"""What operators look at: charts of the turn records in the admin (Prometheus alert rules and
the Grafana dashboard for the exported metrics are files under deploy/)."""

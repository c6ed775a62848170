"""Broadsheet's local infrastructure: real Kafka, a MongoDB-compatible server and SMTP capture
run as child processes, the ``make run`` supervisor and the pytest fixtures built on them."""

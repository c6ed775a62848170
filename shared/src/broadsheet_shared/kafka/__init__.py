"""Kafka plumbing: the producer, the consumer runner and topic administration."""
